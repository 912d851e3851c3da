-- name: insert_dataset(workspace_id, datasource_id, name, description, sql, columns, created_by)<!
INSERT INTO datasets (workspace_id, datasource_id, name, description, sql, columns,
                      created_by, updated_by)
VALUES (:workspace_id, :datasource_id, :name, :description, :sql, :columns,
        :created_by, :created_by)
RETURNING id, workspace_id, datasource_id, name, description, sql, columns,
          version, created_by, created_at, updated_by, updated_at;

-- name: get_dataset_for_member(dataset_id, user_id)^
-- @nullable-columns my_role
-- The dataset with the caller's role in its workspace (NULL: not a member).
SELECT d.id, d.workspace_id, d.datasource_id, d.name, d.description, d.sql, d.columns,
       d.version, d.created_by, d.created_at, d.updated_by, d.updated_at, m.role AS my_role
  FROM datasets d
  LEFT JOIN workspace_members m ON m.workspace_id = d.workspace_id AND m.user_id = :user_id
 WHERE d.id = :dataset_id;

-- name: list_datasets(workspace_id, datasource_id, limit, offset)
-- @nullable-params datasource_id
SELECT id, workspace_id, datasource_id, name, description, sql, columns,
       version, created_by, created_at, updated_by, updated_at
  FROM datasets
 WHERE workspace_id = :workspace_id
   AND (CAST(:datasource_id AS uuid) IS NULL OR datasource_id = :datasource_id)
 ORDER BY name, id
 LIMIT :limit OFFSET :offset;

-- name: count_datasets(workspace_id, datasource_id)$
-- @nullable-params datasource_id
SELECT count(*)
  FROM datasets
 WHERE workspace_id = :workspace_id
   AND (CAST(:datasource_id AS uuid) IS NULL OR datasource_id = :datasource_id);

-- name: update_dataset(dataset_id, name, description, sql, columns, expected_version, updated_by)^
-- @nullable-params name, description, sql, columns, expected_version
-- Fields left NULL keep their value (`sql` and `columns` change together).
-- Optimistic lock: no row when `expected_version` is given and stale.
UPDATE datasets
   SET name        = COALESCE(CAST(:name AS text), name),
       description = COALESCE(CAST(:description AS text), description),
       sql         = COALESCE(CAST(:sql AS text), sql),
       columns     = COALESCE(CAST(:columns AS jsonb), columns),
       version     = version + 1,
       updated_by  = :updated_by,
       updated_at  = now()
 WHERE id = :dataset_id
   AND (CAST(:expected_version AS integer) IS NULL OR version = :expected_version)
RETURNING id, workspace_id, datasource_id, name, description, sql, columns,
          version, created_by, created_at, updated_by, updated_at;

-- name: get_dataset_version(dataset_id)$
SELECT version FROM datasets WHERE id = :dataset_id;

-- name: delete_dataset(dataset_id)!
DELETE FROM datasets WHERE id = :dataset_id;
