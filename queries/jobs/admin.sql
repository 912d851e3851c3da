-- name: list_jobs(statuses, entrypoint, limit, offset)
-- @nullable-params entrypoint
-- @notnull-columns status
-- Jobs still in the queue table (queued, picked = running, failed = held),
-- newest first. `statuses` are pgqueuer's status names.
SELECT id, entrypoint, status::text AS status, priority, attempts, dedupe_key,
       created, updated, execute_after, heartbeat
  FROM pgqueuer
 WHERE status::text = ANY(:statuses)
   AND (CAST(:entrypoint AS text) IS NULL OR entrypoint = :entrypoint)
 ORDER BY id DESC
 LIMIT :limit OFFSET :offset;

-- name: count_jobs(statuses, entrypoint)$
-- @nullable-params entrypoint
-- @vet-allow seq-scan: counts the live queue for the admin list (finished jobs leave
-- pgqueuer); pgqueuer's partial indexes are per status and cannot serve the text cast
SELECT count(*)
  FROM pgqueuer
 WHERE status::text = ANY(:statuses)
   AND (CAST(:entrypoint AS text) IS NULL OR entrypoint = :entrypoint);

-- name: get_job(job_id)^
-- @notnull-columns status
SELECT id, entrypoint, status::text AS status, priority, attempts, dedupe_key,
       created, updated, execute_after, heartbeat, payload, headers
  FROM pgqueuer
 WHERE id = :job_id;

-- name: lock_job(job_id)^
-- @notnull-columns status
-- The row held against workers while an admin changes it: dequeue skips
-- locked rows, so a job cannot be picked between the check and the change.
SELECT id, entrypoint, status::text AS status
  FROM pgqueuer
 WHERE id = :job_id
   FOR UPDATE;

-- name: job_history(job_id, limit)
-- @nullable-columns traceback
-- @notnull-columns status
-- A job's transitions, newest first; finished jobs live on only here.
SELECT id, job_id, status::text AS status, entrypoint, priority, traceback, created
  FROM pgqueuer_log
 WHERE job_id = :job_id
 ORDER BY created DESC, id DESC
 LIMIT :limit;

-- name: queue_depth()
-- @notnull-columns ready, scheduled, running, held
-- @vet-allow seq-scan: per-entrypoint totals over the whole live queue are the point
-- Per entrypoint: ready and scheduled (future execute_after) jobs, running
-- and held ones.
SELECT entrypoint,
       count(*) FILTER (WHERE status = 'queued' AND execute_after <= now()) AS ready,
       count(*) FILTER (WHERE status = 'queued' AND execute_after > now())  AS scheduled,
       count(*) FILTER (WHERE status = 'picked')                            AS running,
       count(*) FILTER (WHERE status = 'failed')                            AS held
  FROM pgqueuer
 GROUP BY entrypoint
 ORDER BY entrypoint;

-- name: outcomes_since(since)
-- @notnull-columns succeeded, failed, retried, canceled
-- Per entrypoint, what happened since `since`: a retry is logged as a return
-- to 'queued' with the error that caused it; an admin re-queue has none.
SELECT entrypoint,
       count(*) FILTER (WHERE status = 'successful')                        AS succeeded,
       count(*) FILTER (WHERE status IN ('failed', 'exception'))            AS failed,
       count(*) FILTER (WHERE status = 'queued' AND traceback IS NOT NULL)  AS retried,
       count(*) FILTER (WHERE status = 'canceled')                          AS canceled
  FROM pgqueuer_log
 WHERE created >= :since
 GROUP BY entrypoint
 ORDER BY entrypoint;
