-- name: list_routes()
-- Every routed workspace: each node holds the whole table in memory.
SELECT workspace_id, legacy_tags, updated_by, updated_at
  FROM legacy_routes
 ORDER BY workspace_id;

-- name: get_route(workspace_id)^
SELECT workspace_id, legacy_tags, updated_by, updated_at
  FROM legacy_routes
 WHERE workspace_id = :workspace_id;

-- name: upsert_route(workspace_id, legacy_tags, actor)<!
INSERT INTO legacy_routes AS r (workspace_id, legacy_tags, updated_by)
VALUES (:workspace_id, :legacy_tags, :actor)
    ON CONFLICT (workspace_id) DO UPDATE
   SET legacy_tags = EXCLUDED.legacy_tags,
       updated_by  = EXCLUDED.updated_by,
       updated_at  = now()
RETURNING workspace_id, legacy_tags, updated_by, updated_at;

-- name: delete_route(workspace_id)!
DELETE FROM legacy_routes WHERE workspace_id = :workspace_id;

-- name: notify_routes_changed()$
-- Delivered at commit to every node's toggle listener, which reloads the routes.
SELECT pg_notify('lowcode_toggles', 'routes');

-- name: page_workspace(page_id)$
-- The workspace a page path names (deleted pages too: they still belong to it).
SELECT workspace_id FROM pages WHERE id = :page_id;

-- name: datasource_workspace(datasource_id)$
SELECT workspace_id FROM datasources WHERE id = :datasource_id;

-- name: dataset_workspace(dataset_id)$
SELECT workspace_id FROM datasets WHERE id = :dataset_id;

-- name: sync_job_workspace(sync_job_id)$
SELECT workspace_id FROM sync_jobs WHERE id = :sync_job_id;

-- name: sync_run_workspace(run_id)$
SELECT workspace_id FROM sync_runs WHERE id = :run_id;
