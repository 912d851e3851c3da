-- name: insert_workspace(name, description, created_by)<!
INSERT INTO workspaces (name, description, created_by)
VALUES (:name, :description, :created_by)
RETURNING id, name, description, version, created_by, created_at, updated_at;

-- name: get_membership(workspace_id, user_id)^
-- @row MembershipRow
-- The workspace as seen by one member; no row when the user is not a member.
SELECT w.id, w.name, w.description, w.version, w.created_by, w.created_at, w.updated_at,
       m.role AS my_role
  FROM workspaces w
  JOIN workspace_members m ON m.workspace_id = w.id
 WHERE w.id = :workspace_id AND m.user_id = :user_id;

-- name: list_workspaces_of_user(user_id, limit, offset)
-- @row MembershipRow
SELECT w.id, w.name, w.description, w.version, w.created_by, w.created_at, w.updated_at,
       m.role AS my_role
  FROM workspaces w
  JOIN workspace_members m ON m.workspace_id = w.id
 WHERE m.user_id = :user_id
 ORDER BY w.created_at, w.id
 LIMIT :limit OFFSET :offset;

-- name: count_workspaces_of_user(user_id)$
SELECT count(*) FROM workspace_members WHERE user_id = :user_id;

-- name: update_workspace(workspace_id, name, description, expected_version)^
-- @nullable-params name, description, expected_version
-- Optimistic lock: no row when `expected_version` is given and stale.
UPDATE workspaces
   SET name        = COALESCE(CAST(:name AS text), name),
       description = COALESCE(CAST(:description AS text), description),
       version     = version + 1,
       updated_at  = now()
 WHERE id = :workspace_id
   AND (CAST(:expected_version AS integer) IS NULL OR version = :expected_version)
RETURNING id, name, description, version, created_by, created_at, updated_at;

-- name: get_workspace_version(workspace_id)$
SELECT version FROM workspaces WHERE id = :workspace_id;

-- name: delete_workspace(workspace_id)!
DELETE FROM workspaces WHERE id = :workspace_id;

-- name: sole_owned_workspaces(user_id)
-- Workspaces where the user is the only owner (they would be left ownerless).
SELECT m.workspace_id
  FROM workspace_members m
 WHERE m.user_id = :user_id AND m.role = 'owner'
   AND NOT EXISTS (
         SELECT 1 FROM workspace_members o
          WHERE o.workspace_id = m.workspace_id AND o.role = 'owner' AND o.user_id <> m.user_id);
