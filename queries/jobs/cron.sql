-- name: claim_cron_tick(schedule, tick)<!
-- One row per (schedule, tick): of the workers firing a tick, only the one
-- whose insert lands gets `true` and enqueues the tick's job.
INSERT INTO job_cron_ticks (schedule, tick)
VALUES (:schedule, :tick)
ON CONFLICT (schedule, tick) DO NOTHING
RETURNING true;

-- name: set_cron_tick_job(schedule, tick, job_id)!
UPDATE job_cron_ticks SET job_id = :job_id WHERE schedule = :schedule AND tick = :tick;
