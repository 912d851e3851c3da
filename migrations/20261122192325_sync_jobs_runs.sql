-- sync_jobs_runs: data syncs (issue 10). A sync job copies a dataset or a
-- table of one datasource into a table of another (or the same) datasource;
-- each run of it is a row of sync_runs, followed by a `sync.run` worker job
-- while the data-sync peer copies.

-- migrate:up

-- The source is a dataset, or a table on a datasource (exactly one). The
-- datasource and dataset references are NO ACTION, checked at the end of the
-- statement: deleting a datasource or dataset a sync job uses fails, and
-- deleting the workspace removes all of them.
CREATE TABLE sync_jobs (
    id                   uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id         uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                 text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description          text        NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    source_dataset_id    uuid        REFERENCES datasets (id),
    source_datasource_id uuid        REFERENCES datasources (id),
    source_schema        text,
    source_table         text,
    sink_datasource_id   uuid        NOT NULL REFERENCES datasources (id),
    sink_schema          text        NOT NULL,
    sink_table           text        NOT NULL,
    mode                 text        NOT NULL CHECK (mode IN ('append', 'overwrite', 'upsert')),
    key_columns          text[]      NOT NULL DEFAULT '{}',
    -- Standard 5-field cron, in UTC; NULL: runs only when asked.
    schedule             text,
    -- The schedule's next tick; the dispatcher starts a run once it has passed.
    next_run_at          timestamptz,
    version              integer     NOT NULL DEFAULT 1,
    created_by           uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           uuid        REFERENCES users (id) ON DELETE SET NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name),
    CHECK ((source_dataset_id IS NULL) <> (source_datasource_id IS NULL)),
    CHECK (source_datasource_id IS NULL OR (source_schema IS NOT NULL AND source_table IS NOT NULL)),
    CHECK (mode <> 'upsert' OR cardinality(key_columns) > 0),
    CHECK ((schedule IS NULL) = (next_run_at IS NULL))
);

CREATE INDEX sync_jobs_due_idx ON sync_jobs (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE INDEX sync_jobs_source_dataset_idx ON sync_jobs (source_dataset_id);
CREATE INDEX sync_jobs_source_datasource_idx ON sync_jobs (source_datasource_id);
CREATE INDEX sync_jobs_sink_datasource_idx ON sync_jobs (sink_datasource_id);

-- A run: QUEUED (its worker job waits), RUNNING (submitted to the peer and
-- followed), CANCELING (cancel asked), then FINISHED, FAILED or CANCELED.
-- `last_sequence` is the last peer event recorded, where a worker that takes
-- the run over resumes WatchJob. Counters are the peer's metrics
-- (SourceReceivedCount, SinkWriteCount and their bytes).
CREATE TABLE sync_runs (
    id                  uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
    sync_job_id         uuid             NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    workspace_id        uuid             NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    status              text             NOT NULL DEFAULT 'QUEUED'
                                         CHECK (status IN ('QUEUED', 'RUNNING', 'CANCELING',
                                                           'FINISHED', 'FAILED', 'CANCELED')),
    trigger             text             NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    -- Who started it (NULL for a scheduled run), and who hears about it on /ws/events.
    requested_by        uuid             REFERENCES users (id) ON DELETE SET NULL,
    notify_user_id      uuid             REFERENCES users (id) ON DELETE SET NULL,
    queue_job_id        bigint,
    peer_status         text,
    submitted_at        timestamptz,
    last_sequence       bigint           NOT NULL DEFAULT 0,
    rows_read           bigint           NOT NULL DEFAULT 0,
    rows_written        bigint           NOT NULL DEFAULT 0,
    bytes_read          bigint           NOT NULL DEFAULT 0,
    bytes_written       bigint           NOT NULL DEFAULT 0,
    rows_per_second     double precision,
    error               text             CHECK (length(error) <= 4000),
    cancel_requested_at timestamptz,
    canceled_by         uuid             REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz      NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz      NOT NULL DEFAULT now()
);

-- One active run per sync job; the reaper scans the active runs.
CREATE UNIQUE INDEX sync_runs_one_active_idx ON sync_runs (sync_job_id)
    WHERE status IN ('QUEUED', 'RUNNING', 'CANCELING');
CREATE INDEX sync_runs_job_created_idx ON sync_runs (sync_job_id, created_at DESC, id DESC);
CREATE INDEX sync_runs_workspace_idx ON sync_runs (workspace_id);

-- migrate:down
DROP TABLE sync_runs;
DROP TABLE sync_jobs;
