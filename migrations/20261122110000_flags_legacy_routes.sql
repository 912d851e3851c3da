-- migrate:up

-- Feature flags. Evaluation for a workspace goes: not enabled → off (DISABLED);
-- in deny_workspaces → off; in allow_workspaces → on (TARGETING_MATCH); its
-- bucket murmur3_32("{key}:{workspace}") % 100 + 1 ≤ rollout_percentage → on
-- (SPLIT); otherwise default_variant (DEFAULT). Changes are announced on the
-- `lowcode_toggles` channel at commit so every node reloads its copy.
CREATE TABLE feature_flags (
    key                text        PRIMARY KEY CHECK (key ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$'),
    description        text        NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    enabled            boolean     NOT NULL,
    default_variant    text        NOT NULL DEFAULT 'off' CHECK (default_variant IN ('on', 'off')),
    allow_workspaces   uuid[]      NOT NULL DEFAULT '{}' CHECK (cardinality(allow_workspaces) <= 1000),
    deny_workspaces    uuid[]      NOT NULL DEFAULT '{}' CHECK (cardinality(deny_workspaces) <= 1000),
    rollout_percentage integer     NOT NULL DEFAULT 0 CHECK (rollout_percentage BETWEEN 0 AND 100),
    created_by         uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_by         uuid        REFERENCES users (id) ON DELETE SET NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Route groups: the OpenAPI tags whose requests for this workspace the legacy
-- backend serves. No foreign key: during a migration a tenant may exist only
-- in the legacy backend, and its routes must outlive a local delete.
CREATE TABLE legacy_routes (
    workspace_id uuid        PRIMARY KEY,
    legacy_tags  text[]      NOT NULL CHECK (cardinality(legacy_tags) BETWEEN 1 AND 50),
    updated_by   uuid        REFERENCES users (id) ON DELETE SET NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE legacy_routes;
DROP TABLE feature_flags;
