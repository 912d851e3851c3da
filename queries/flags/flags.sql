-- name: list_flags()
-- Every flag: the table is small and each node holds all of it in memory.
SELECT key, description, enabled, default_variant, allow_workspaces, deny_workspaces,
       rollout_percentage, created_by, created_at, updated_by, updated_at
  FROM feature_flags
 ORDER BY key;

-- name: get_flag(key)^
SELECT key, description, enabled, default_variant, allow_workspaces, deny_workspaces,
       rollout_percentage, created_by, created_at, updated_by, updated_at
  FROM feature_flags
 WHERE key = :key;

-- name: upsert_flag(key, description, enabled, default_variant, allow_workspaces, deny_workspaces, rollout_percentage, actor)<!
-- @notnull-columns created
-- `created` tells an insert (xmax = 0) from an update of an existing row.
INSERT INTO feature_flags AS f
       (key, description, enabled, default_variant, allow_workspaces, deny_workspaces,
        rollout_percentage, created_by, updated_by)
VALUES (:key, :description, :enabled, :default_variant, :allow_workspaces, :deny_workspaces,
        :rollout_percentage, :actor, :actor)
    ON CONFLICT (key) DO UPDATE
   SET description        = EXCLUDED.description,
       enabled            = EXCLUDED.enabled,
       default_variant    = EXCLUDED.default_variant,
       allow_workspaces   = EXCLUDED.allow_workspaces,
       deny_workspaces    = EXCLUDED.deny_workspaces,
       rollout_percentage = EXCLUDED.rollout_percentage,
       updated_by         = EXCLUDED.updated_by,
       updated_at         = now()
RETURNING key, description, enabled, default_variant, allow_workspaces, deny_workspaces,
          rollout_percentage, created_by, created_at, updated_by, updated_at,
          (xmax = 0) AS created;

-- name: delete_flag(key)!
DELETE FROM feature_flags WHERE key = :key;

-- name: notify_flags_changed()$
-- Delivered at commit to every node's toggle listener, which reloads the flags.
SELECT pg_notify('lowcode_toggles', 'flags');
