-- migrate:up

-- `schema` is the snapshot: the document at `snapshot_version`. The current
-- document is the snapshot plus the ops after it in page_ops; `version` is
-- the newest op's version (the head). Version 1 is the created document.
CREATE TABLE pages (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id     uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    title            text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    schema           jsonb       NOT NULL,
    version          integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    snapshot_version integer     NOT NULL DEFAULT 1 CHECK (snapshot_version BETWEEN 1 AND version),
    snapshot_at      timestamptz NOT NULL DEFAULT now(),
    created_by       uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       uuid        REFERENCES users (id) ON DELETE SET NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);

CREATE INDEX pages_workspace_idx ON pages (workspace_id, updated_at DESC) WHERE deleted_at IS NULL;

-- The op log is the sequencer: one row per version, and the primary key makes
-- whoever inserts version v+1 first the winner.
CREATE TABLE page_ops (
    page_id  uuid        NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    version  integer     NOT NULL CHECK (version >= 2),
    patch    jsonb       NOT NULL,
    actor    uuid        REFERENCES users (id) ON DELETE SET NULL,
    op_id    text        NOT NULL CHECK (length(op_id) BETWEEN 1 AND 100),
    at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (page_id, version)
);

-- A retried op (same opId) is recognised instead of applied twice.
CREATE UNIQUE INDEX page_ops_op_id_key ON page_ops (page_id, op_id);

-- Snapshots kept as revisions: the document as it was at `version`.
CREATE TABLE page_revisions (
    page_id    uuid        NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    version    integer     NOT NULL,
    schema     jsonb       NOT NULL,
    reason     text        NOT NULL CHECK (reason IN ('create', 'snapshot', 'restore', 'close')),
    created_by uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (page_id, version)
);

-- migrate:down
DROP TABLE page_revisions;
DROP TABLE page_ops;
DROP TABLE pages;
