"""Sync schedules and the run reaper, both cron work (CRON_SCHEDULES).

`sync.schedule` (every minute by default) starts a run of each sync job
whose `next_run_at` has passed and moves `next_run_at` to the schedule's next
tick, in one transaction with the jobs locked (FOR UPDATE SKIP LOCKED): each
tick of each job starts one run across all workers, on top of the cron
machinery's own once-per-tick guarantee for the dispatcher. A job whose
previous run is still active skips the tick. Schedules are standard 5-field
cron in UTC, so a minute's dispatcher serves them all.

`sync.reap_runs` fails the active runs whose worker job is no longer queued
or running (held after its last attempt, canceled or deleted by an admin):
nothing else would ever end them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import CroniterError, croniter

from lowcode.jobs.registry import CronTick, Entrypoint, JobContext
from lowcode.platform.db import transaction
from lowcode.sync import events
from lowcode.sync.jobs import SYNC_RUN, enqueue_run

log = logging.getLogger("lowcode.sync.schedule")

DUE_BATCH = 100
REAP_BATCH = 500
# A run whose job vanished is reaped once it has been quiet this long.
REAP_AFTER = timedelta(minutes=1)


def parse_schedule(expression: str) -> str:
    """The expression, normalised, if it is standard 5-field cron; ValueError otherwise."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            "a schedule is standard cron: 5 fields (minute hour day-of-month month day-of-week)"
        )
    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise ValueError(f"{expression!r} is not a valid cron expression")
    try:
        next_tick(normalised, datetime.now(UTC))
    except CroniterError as e:  # valid fields, no date ever matches (30 February)
        raise ValueError(f"{expression!r} never fires: {e}") from None
    return normalised


def next_tick(expression: str, after: datetime) -> datetime:
    tick: datetime = croniter(expression, after.astimezone(UTC)).get_next(datetime)
    return tick


async def start_due_runs(ctx: JobContext, tick: CronTick) -> None:
    """Start the runs whose schedule's tick has passed."""
    res = ctx.res
    q = res.queries.sync
    started = skipped = 0
    while True:
        now = datetime.now(UTC)
        async with transaction(res.pool) as conn:
            due = [r async for r in q.due_sync_jobs(conn, now=now, limit=DUE_BATCH)]
            for job in due:
                assert job.schedule is not None
                await q.set_next_run(
                    conn, sync_job_id=job.id, next_run_at=next_tick(job.schedule, now)
                )
                run = await q.insert_scheduled_run(
                    conn,
                    sync_job_id=job.id,
                    workspace_id=job.workspace_id,
                    notify_user_id=job.created_by,
                )
                if run is None:
                    skipped += 1
                    log.warning(
                        "scheduled sync skipped: the previous run is still active",
                        extra={"sync_job_id": str(job.id)},
                    )
                    continue
                await enqueue_run(res, conn, run)
                started += 1
        if len(due) < DUE_BATCH:
            break
    if started or skipped:
        log.info("scheduled syncs", extra={"started": started, "skipped": skipped})


async def reap_runs(ctx: JobContext, tick: CronTick) -> None:
    """End the active runs no worker job will ever finish."""
    res = ctx.res
    q = res.queries.sync
    async with res.pool.acquire() as conn:
        orphans = [
            r.id
            async for r in q.orphaned_runs(
                conn, older_than=datetime.now(UTC) - REAP_AFTER, limit=REAP_BATCH
            )
        ]
    for run_id in orphans:
        async with transaction(res.pool) as conn:
            row = await q.finish_run(
                conn,
                run_id=run_id,
                status="FAILED",
                peer_status=None,
                last_sequence=0,
                rows_read=0,
                rows_written=0,
                bytes_read=0,
                bytes_written=0,
                rows_per_second=None,
                error=(
                    f"its {SYNC_RUN.name} worker job ended without finishing it (held after its "
                    "last attempt, or canceled by an admin); the data-sync job may still have run"
                ),
            )
        if row is not None:
            log.warning("orphaned sync run failed", extra={"run_id": str(run_id)})
            await events.finished(res, row)


SCHEDULE = Entrypoint(
    "sync.schedule", CronTick, start_due_runs, max_attempts=3, concurrency_limit=1
)
REAP_RUNS = Entrypoint("sync.reap_runs", CronTick, reap_runs, max_attempts=3, concurrency_limit=1)

ENTRYPOINTS: tuple[Entrypoint[Any], ...] = (SYNC_RUN, SCHEDULE, REAP_RUNS)
