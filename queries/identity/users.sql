-- name: insert_user(email, password_hash, display_name, role)<!
-- @row PublicUserRow
-- Create a user; a duplicate email (any case) raises a unique violation.
INSERT INTO users (email, password_hash, display_name, role)
VALUES (:email, :password_hash, :display_name, :role)
RETURNING id, email, display_name, role, disabled, created_at, updated_at;

-- name: get_user(user_id)^
-- @row PublicUserRow
SELECT id, email, display_name, role, disabled, created_at, updated_at
  FROM users
 WHERE id = :user_id;

-- name: get_user_by_email(email)^
SELECT id, email, password_hash, display_name, role, disabled, created_at, updated_at
  FROM users
 WHERE lower(email) = lower(:email);

-- name: get_password_hash(user_id)$
SELECT password_hash FROM users WHERE id = :user_id;

-- name: count_users()$
SELECT count(*) FROM users;

-- name: search_users(query, role, disabled, limit, offset)
-- @nullable-params query, role, disabled
-- @row PublicUserRow
-- @vet-allow seq-scan: a substring ILIKE has no B-tree index to use (pg_trgm would);
-- admin-only and paginated
-- `query` is a LIKE pattern the service has already escaped.
SELECT id, email, display_name, role, disabled, created_at, updated_at
  FROM users
 WHERE (CAST(:query AS text) IS NULL OR email ILIKE :query OR display_name ILIKE :query)
   AND (CAST(:role AS text) IS NULL OR role = :role)
   AND (CAST(:disabled AS boolean) IS NULL OR disabled = :disabled)
 ORDER BY created_at, id
 LIMIT :limit OFFSET :offset;

-- name: count_search_users(query, role, disabled)$
-- @nullable-params query, role, disabled
-- @vet-allow seq-scan: the count of search_users, same filter (admin-only)
SELECT count(*)
  FROM users
 WHERE (CAST(:query AS text) IS NULL OR email ILIKE :query OR display_name ILIKE :query)
   AND (CAST(:role AS text) IS NULL OR role = :role)
   AND (CAST(:disabled AS boolean) IS NULL OR disabled = :disabled);

-- name: update_display_name(user_id, display_name)^
-- @row PublicUserRow
UPDATE users
   SET display_name = :display_name, updated_at = now()
 WHERE id = :user_id
RETURNING id, email, display_name, role, disabled, created_at, updated_at;

-- name: update_password_hash(user_id, password_hash)!
UPDATE users SET password_hash = :password_hash, updated_at = now() WHERE id = :user_id;

-- name: update_role_and_status(user_id, role, disabled)^
-- @nullable-params role, disabled
-- @row PublicUserRow
-- NULL leaves the field as it is.
UPDATE users
   SET role       = COALESCE(CAST(:role AS text), role),
       disabled   = COALESCE(CAST(:disabled AS boolean), disabled),
       updated_at = now()
 WHERE id = :user_id
RETURNING id, email, display_name, role, disabled, created_at, updated_at;

-- name: lock_user(user_id)$
SELECT id FROM users WHERE id = :user_id FOR UPDATE;

-- name: delete_user(user_id)!
DELETE FROM users WHERE id = :user_id;
