-- migrate:up

-- A datasource is a PostgreSQL connection config of one workspace. The
-- password is a Fernet token (MultiFernet, keys from DATASOURCE_KEYS): never
-- selected except to connect or to re-encrypt it under a new key.
CREATE TABLE datasources (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id        uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description         text        NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    kind                text        NOT NULL DEFAULT 'postgres' CHECK (kind IN ('postgres')),
    host                text        NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
    port                integer     NOT NULL CHECK (port BETWEEN 1 AND 65535),
    database            text        NOT NULL CHECK (length(database) BETWEEN 1 AND 63),
    username            text        NOT NULL CHECK (length(username) BETWEEN 1 AND 63),
    password_ciphertext text,
    ssl_mode            text        NOT NULL DEFAULT 'prefer'
                                    CHECK (ssl_mode IN ('disable', 'prefer', 'require', 'verify-full')),
    version             integer     NOT NULL DEFAULT 1,
    created_by          uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          uuid        REFERENCES users (id) ON DELETE SET NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

-- A dataset is one read-only query over a datasource, validated by the SQL
-- service when saved; `columns` are its output columns as validated
-- ([{name, type}]). The datasource reference is NO ACTION, checked at the
-- end of the statement: deleting a datasource that datasets use fails, and
-- deleting the workspace removes both.
CREATE TABLE datasets (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    datasource_id uuid        NOT NULL REFERENCES datasources (id),
    name          text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text        NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    sql           text        NOT NULL CHECK (length(sql) BETWEEN 1 AND 100000),
    columns       jsonb       NOT NULL DEFAULT '[]',
    version       integer     NOT NULL DEFAULT 1,
    created_by    uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    uuid        REFERENCES users (id) ON DELETE SET NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);

CREATE INDEX datasets_datasource_idx ON datasets (datasource_id);

-- migrate:down
DROP TABLE datasets;
DROP TABLE datasources;
