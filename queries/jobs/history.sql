-- name: prune_job_log(older_than, max_rows)!
-- pgqueuer appends a row per transition and never deletes them; old rows go
-- in batches so no statement holds locks for long.
DELETE FROM pgqueuer_log
 WHERE id IN (SELECT id
                FROM pgqueuer_log
               WHERE created < :older_than
               ORDER BY created
               LIMIT :max_rows);

-- name: prune_job_statistics(older_than)!
-- @vet-allow seq-scan: one pass a day over pgqueuer's per-second counters; an index on
-- `created` would cost every job completion an index write
DELETE FROM pgqueuer_statistics WHERE created < :older_than;

-- name: prune_cron_ticks(older_than)!
DELETE FROM job_cron_ticks WHERE created_at < :older_than;
