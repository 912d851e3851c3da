-- name: insert_user(email, password_hash, display_name, role)^
-- Create a user; a duplicate email (any case) raises a unique violation.
INSERT INTO users (email, password_hash, display_name, role)
VALUES (:email, :password_hash, :display_name, :role)
RETURNING id, email, display_name, role, disabled, created_at, updated_at;

-- name: get_user(user_id)^
SELECT id, email, display_name, role, disabled, created_at, updated_at
  FROM users
 WHERE id = :user_id;

-- name: get_user_by_email(email)^
SELECT id, email, password_hash, display_name, role, disabled, created_at, updated_at
  FROM users
 WHERE lower(email) = lower(:email);

-- name: count_users()$
SELECT count(*) FROM users;
