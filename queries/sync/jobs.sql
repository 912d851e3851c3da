-- name: insert_sync_job(workspace_id, name, description, source_dataset_id, source_datasource_id, source_schema, source_table, sink_datasource_id, sink_schema, sink_table, mode, key_columns, schedule, next_run_at, created_by)<!
-- @row SyncJobRow
-- @nullable-params source_dataset_id, source_datasource_id, source_schema, source_table, schedule, next_run_at
INSERT INTO sync_jobs (workspace_id, name, description, source_dataset_id, source_datasource_id,
                       source_schema, source_table, sink_datasource_id, sink_schema, sink_table,
                       mode, key_columns, schedule, next_run_at, created_by, updated_by)
VALUES (:workspace_id, :name, :description, :source_dataset_id, :source_datasource_id,
        :source_schema, :source_table, :sink_datasource_id, :sink_schema, :sink_table,
        :mode, :key_columns, :schedule, :next_run_at, :created_by, :created_by)
RETURNING id, workspace_id, name, description, source_dataset_id, source_datasource_id,
          source_schema, source_table, sink_datasource_id, sink_schema, sink_table, mode,
          key_columns, schedule, next_run_at, version, created_by, created_at, updated_by,
          updated_at;

-- name: get_sync_job_for_member(sync_job_id, user_id)^
-- @nullable-columns my_role
-- The sync job with the caller's role in its workspace (NULL: not a member).
SELECT j.id, j.workspace_id, j.name, j.description, j.source_dataset_id, j.source_datasource_id,
       j.source_schema, j.source_table, j.sink_datasource_id, j.sink_schema, j.sink_table, j.mode,
       j.key_columns, j.schedule, j.next_run_at, j.version, j.created_by, j.created_at,
       j.updated_by, j.updated_at, m.role AS my_role
  FROM sync_jobs j
  LEFT JOIN workspace_members m ON m.workspace_id = j.workspace_id AND m.user_id = :user_id
 WHERE j.id = :sync_job_id;

-- name: get_sync_job(sync_job_id)^
-- @row SyncJobRow
SELECT id, workspace_id, name, description, source_dataset_id, source_datasource_id,
       source_schema, source_table, sink_datasource_id, sink_schema, sink_table, mode,
       key_columns, schedule, next_run_at, version, created_by, created_at, updated_by,
       updated_at
  FROM sync_jobs
 WHERE id = :sync_job_id;

-- name: list_sync_jobs(workspace_id, limit, offset)
-- @row SyncJobRow
SELECT id, workspace_id, name, description, source_dataset_id, source_datasource_id,
       source_schema, source_table, sink_datasource_id, sink_schema, sink_table, mode,
       key_columns, schedule, next_run_at, version, created_by, created_at, updated_by,
       updated_at
  FROM sync_jobs
 WHERE workspace_id = :workspace_id
 ORDER BY name, id
 LIMIT :limit OFFSET :offset;

-- name: count_sync_jobs(workspace_id)$
SELECT count(*) FROM sync_jobs WHERE workspace_id = :workspace_id;

-- name: update_sync_job(sync_job_id, name, description, source_dataset_id, source_datasource_id, source_schema, source_table, sink_datasource_id, sink_schema, sink_table, mode, key_columns, schedule, next_run_at, expected_version, updated_by)^
-- @row SyncJobRow
-- @nullable-params name, description, source_dataset_id, source_datasource_id, source_schema, source_table, schedule, next_run_at, expected_version
-- Every definition field is written (the service merges the change into the
-- current definition first); optimistic lock on `expected_version` when given.
UPDATE sync_jobs
   SET name                 = COALESCE(CAST(:name AS text), name),
       description          = COALESCE(CAST(:description AS text), description),
       source_dataset_id    = :source_dataset_id,
       source_datasource_id = :source_datasource_id,
       source_schema        = :source_schema,
       source_table         = :source_table,
       sink_datasource_id   = :sink_datasource_id,
       sink_schema          = :sink_schema,
       sink_table           = :sink_table,
       mode                 = :mode,
       key_columns          = :key_columns,
       schedule             = :schedule,
       next_run_at          = :next_run_at,
       version              = version + 1,
       updated_by           = :updated_by,
       updated_at           = now()
 WHERE id = :sync_job_id
   AND (CAST(:expected_version AS integer) IS NULL OR version = :expected_version)
RETURNING id, workspace_id, name, description, source_dataset_id, source_datasource_id,
          source_schema, source_table, sink_datasource_id, sink_schema, sink_table, mode,
          key_columns, schedule, next_run_at, version, created_by, created_at, updated_by,
          updated_at;

-- name: get_sync_job_version(sync_job_id)$
SELECT version FROM sync_jobs WHERE id = :sync_job_id;

-- name: delete_sync_job(sync_job_id)!
DELETE FROM sync_jobs WHERE id = :sync_job_id;

-- name: due_sync_jobs(now, limit)
-- @row SyncJobRow
-- Scheduled jobs whose tick has come, locked so two dispatchers never start
-- the same tick; a locked one is another dispatcher's.
SELECT id, workspace_id, name, description, source_dataset_id, source_datasource_id,
       source_schema, source_table, sink_datasource_id, sink_schema, sink_table, mode,
       key_columns, schedule, next_run_at, version, created_by, created_at, updated_by,
       updated_at
  FROM sync_jobs
 WHERE next_run_at <= :now
 ORDER BY next_run_at
 LIMIT :limit
   FOR UPDATE SKIP LOCKED;

-- name: set_next_run(sync_job_id, next_run_at)!
UPDATE sync_jobs SET next_run_at = :next_run_at WHERE id = :sync_job_id;

-- name: source_dataset(dataset_id)^
-- A dataset a sync job reads: its datasource and SQL.
SELECT workspace_id, datasource_id, sql FROM datasets WHERE id = :dataset_id;

