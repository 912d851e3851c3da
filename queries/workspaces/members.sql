-- name: insert_member(workspace_id, user_id, role)<!
INSERT INTO workspace_members (workspace_id, user_id, role)
VALUES (:workspace_id, :user_id, :role)
RETURNING workspace_id, user_id, role, created_at, updated_at;

-- name: list_members(workspace_id, limit, offset)
-- @row MemberRow
SELECT m.user_id, u.email, u.display_name, m.role, m.created_at, m.updated_at
  FROM workspace_members m
  JOIN users u ON u.id = m.user_id
 WHERE m.workspace_id = :workspace_id
 ORDER BY m.created_at, m.user_id
 LIMIT :limit OFFSET :offset;

-- name: count_members(workspace_id)$
SELECT count(*) FROM workspace_members WHERE workspace_id = :workspace_id;

-- name: get_member(workspace_id, user_id)^
-- @row MemberRow
SELECT m.user_id, u.email, u.display_name, m.role, m.created_at, m.updated_at
  FROM workspace_members m
  JOIN users u ON u.id = m.user_id
 WHERE m.workspace_id = :workspace_id AND m.user_id = :user_id;

-- name: lock_owners(workspace_id)
-- Lock the owner rows in a fixed order so concurrent demotions/removals of
-- owners serialise and the last owner can never be removed.
SELECT user_id
  FROM workspace_members
 WHERE workspace_id = :workspace_id AND role = 'owner'
 ORDER BY user_id
   FOR UPDATE;

-- name: update_member_role(workspace_id, user_id, role)!
UPDATE workspace_members
   SET role = :role, updated_at = now()
 WHERE workspace_id = :workspace_id AND user_id = :user_id;

-- name: delete_member(workspace_id, user_id)!
DELETE FROM workspace_members WHERE workspace_id = :workspace_id AND user_id = :user_id;
