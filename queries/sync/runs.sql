-- name: insert_sync_run(sync_job_id, workspace_id, trigger, requested_by, notify_user_id)<!
-- @nullable-params requested_by, notify_user_id
-- Fails on sync_runs_one_active_idx while the job has an active run.
INSERT INTO sync_runs (sync_job_id, workspace_id, trigger, requested_by, notify_user_id)
VALUES (:sync_job_id, :workspace_id, :trigger, :requested_by, :notify_user_id)
RETURNING id, sync_job_id, workspace_id, status, trigger, requested_by, notify_user_id,
          queue_job_id, peer_status, submitted_at, last_sequence, rows_read, rows_written,
          bytes_read, bytes_written, rows_per_second, error, cancel_requested_at,
          canceled_by, created_at, started_at, finished_at, updated_at;

-- name: insert_scheduled_run(sync_job_id, workspace_id, notify_user_id)<!
-- @nullable-params notify_user_id
-- A tick's run; nothing when the job still has an active run (that tick is skipped).
INSERT INTO sync_runs (sync_job_id, workspace_id, trigger, notify_user_id)
VALUES (:sync_job_id, :workspace_id, 'schedule', :notify_user_id)
    ON CONFLICT (sync_job_id) WHERE status IN ('QUEUED', 'RUNNING', 'CANCELING') DO NOTHING
RETURNING id, sync_job_id, workspace_id, status, trigger, requested_by, notify_user_id,
          queue_job_id, peer_status, submitted_at, last_sequence, rows_read, rows_written,
          bytes_read, bytes_written, rows_per_second, error, cancel_requested_at,
          canceled_by, created_at, started_at, finished_at, updated_at;

-- name: set_queue_job(run_id, queue_job_id)!
UPDATE sync_runs SET queue_job_id = :queue_job_id WHERE id = :run_id;

-- name: active_run(sync_job_id)$
SELECT id
  FROM sync_runs
 WHERE sync_job_id = :sync_job_id AND status IN ('QUEUED', 'RUNNING', 'CANCELING');

-- name: get_sync_run(run_id)^
SELECT id, sync_job_id, workspace_id, status, trigger, requested_by, notify_user_id,
       queue_job_id, peer_status, submitted_at, last_sequence, rows_read, rows_written,
       bytes_read, bytes_written, rows_per_second, error, cancel_requested_at,
       canceled_by, created_at, started_at, finished_at, updated_at
  FROM sync_runs
 WHERE id = :run_id;

-- name: get_sync_run_for_member(run_id, user_id)^
-- @nullable-columns my_role
SELECT r.id, r.sync_job_id, r.workspace_id, r.status, r.trigger, r.requested_by,
       r.notify_user_id, r.queue_job_id, r.peer_status, r.submitted_at, r.last_sequence,
       r.rows_read, r.rows_written, r.bytes_read, r.bytes_written, r.rows_per_second, r.error,
       r.cancel_requested_at, r.canceled_by, r.created_at, r.started_at, r.finished_at,
       r.updated_at, m.role AS my_role
  FROM sync_runs r
  LEFT JOIN workspace_members m ON m.workspace_id = r.workspace_id AND m.user_id = :user_id
 WHERE r.id = :run_id;

-- name: list_sync_runs(sync_job_id, limit, offset)
SELECT id, sync_job_id, workspace_id, status, trigger, requested_by, notify_user_id,
       queue_job_id, peer_status, submitted_at, last_sequence, rows_read, rows_written,
       bytes_read, bytes_written, rows_per_second, error, cancel_requested_at,
       canceled_by, created_at, started_at, finished_at, updated_at
  FROM sync_runs
 WHERE sync_job_id = :sync_job_id
 ORDER BY created_at DESC, id DESC
 LIMIT :limit OFFSET :offset;

-- name: count_sync_runs(sync_job_id)$
SELECT count(*) FROM sync_runs WHERE sync_job_id = :sync_job_id;

-- name: request_cancel(run_id, actor)^
-- A queued run is canceled at once (its worker job will find nothing to do);
-- a running one becomes CANCELING until the peer confirms.
UPDATE sync_runs
   SET status              = CASE WHEN status = 'QUEUED' THEN 'CANCELED' ELSE 'CANCELING' END,
       finished_at         = CASE WHEN status = 'QUEUED' THEN now() ELSE finished_at END,
       cancel_requested_at = COALESCE(cancel_requested_at, now()),
       canceled_by         = COALESCE(canceled_by, :actor),
       updated_at          = now()
 WHERE id = :run_id AND status IN ('QUEUED', 'RUNNING', 'CANCELING')
RETURNING id, sync_job_id, workspace_id, status, trigger, requested_by, notify_user_id,
          queue_job_id, peer_status, submitted_at, last_sequence, rows_read, rows_written,
          bytes_read, bytes_written, rows_per_second, error, cancel_requested_at,
          canceled_by, created_at, started_at, finished_at, updated_at;

-- name: start_run(run_id)^
-- The worker takes a queued run (or one it is taking over: already RUNNING).
UPDATE sync_runs
   SET status     = 'RUNNING',
       started_at = COALESCE(started_at, now()),
       updated_at = now()
 WHERE id = :run_id AND status IN ('QUEUED', 'RUNNING')
RETURNING id, sync_job_id, workspace_id, status, trigger, requested_by, notify_user_id,
          queue_job_id, peer_status, submitted_at, last_sequence, rows_read, rows_written,
          bytes_read, bytes_written, rows_per_second, error, cancel_requested_at,
          canceled_by, created_at, started_at, finished_at, updated_at;

-- name: mark_submitted(run_id)!
UPDATE sync_runs
   SET submitted_at = COALESCE(submitted_at, now()), updated_at = now()
 WHERE id = :run_id;

-- name: record_progress(run_id, last_sequence, peer_status, rows_read, rows_written, bytes_read, bytes_written, rows_per_second)^
-- @nullable-params rows_per_second
-- Counters only move forward. The run comes back (its status says whether a
-- cancel was asked); no row once it is gone.
UPDATE sync_runs
   SET last_sequence   = GREATEST(last_sequence, :last_sequence),
       peer_status     = :peer_status,
       rows_read       = GREATEST(rows_read, :rows_read),
       rows_written    = GREATEST(rows_written, :rows_written),
       bytes_read      = GREATEST(bytes_read, :bytes_read),
       bytes_written   = GREATEST(bytes_written, :bytes_written),
       rows_per_second = :rows_per_second,
       updated_at      = now()
 WHERE id = :run_id
RETURNING id, sync_job_id, workspace_id, status, trigger, requested_by, notify_user_id,
          queue_job_id, peer_status, submitted_at, last_sequence, rows_read, rows_written,
          bytes_read, bytes_written, rows_per_second, error, cancel_requested_at,
          canceled_by, created_at, started_at, finished_at, updated_at;

-- name: run_status(run_id)$
SELECT status FROM sync_runs WHERE id = :run_id;

-- name: finish_run(run_id, status, peer_status, last_sequence, rows_read, rows_written, bytes_read, bytes_written, rows_per_second, error)^
-- @nullable-params peer_status, rows_per_second, error
-- The end state, once: a run that already ended is left as it is (no row).
UPDATE sync_runs
   SET status          = :status,
       peer_status     = COALESCE(CAST(:peer_status AS text), peer_status),
       last_sequence   = GREATEST(last_sequence, :last_sequence),
       rows_read       = GREATEST(rows_read, :rows_read),
       rows_written    = GREATEST(rows_written, :rows_written),
       bytes_read      = GREATEST(bytes_read, :bytes_read),
       bytes_written   = GREATEST(bytes_written, :bytes_written),
       rows_per_second = COALESCE(CAST(:rows_per_second AS double precision), rows_per_second),
       error           = :error,
       finished_at     = now(),
       updated_at      = now()
 WHERE id = :run_id AND status IN ('QUEUED', 'RUNNING', 'CANCELING')
RETURNING id, sync_job_id, workspace_id, status, trigger, requested_by, notify_user_id,
          queue_job_id, peer_status, submitted_at, last_sequence, rows_read, rows_written,
          bytes_read, bytes_written, rows_per_second, error, cancel_requested_at,
          canceled_by, created_at, started_at, finished_at, updated_at;

-- name: orphaned_runs(older_than, limit)
-- Active runs whose worker job is no longer queued or running (held after its
-- last attempt, canceled or deleted by an admin): nothing will finish them.
SELECT r.id
  FROM sync_runs r
 WHERE r.status IN ('QUEUED', 'RUNNING', 'CANCELING')
   AND r.updated_at < :older_than
   AND NOT EXISTS (SELECT 1
                     FROM pgqueuer q
                    WHERE q.id = r.queue_job_id AND q.status IN ('queued', 'picked'))
 ORDER BY r.updated_at
 LIMIT :limit;

