"""Periodic work of the job machinery itself (pruning of job history), and the
batching every cron cleanup shares. Each context keeps its own cron work
(`identity.jobs`, `pages.jobs`); `jobs.catalog` collects them all. Each runs
from a cron schedule (CRON_SCHEDULES) and is idempotent: a re-run after a
crash deletes nothing twice."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lowcode.jobs.registry import CronTick, Entrypoint, JobContext
from lowcode.platform.db import Pool, transaction

log = logging.getLogger("lowcode.jobs.maintenance")

# Rows one statement deletes, so no batch holds its locks for long.
BATCH_ROWS = 5000


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


async def delete_in_batches(
    pool: Pool, delete: Callable[..., Awaitable[int]], **params: Any
) -> int:
    """`delete(conn, max_rows=BATCH_ROWS, **params)`, each batch in a transaction
    of its own, until one deletes fewer than BATCH_ROWS; the rows deleted."""
    total = 0
    while True:
        async with transaction(pool) as conn:
            deleted = await delete(conn, max_rows=BATCH_ROWS, **params)
        total += deleted
        if deleted < BATCH_ROWS:
            return total


async def prune_history(ctx: JobContext, tick: CronTick) -> None:
    """Drop job log, statistics and cron-tick rows older than JOB_HISTORY_RETENTION_S."""
    res = ctx.res
    q = res.queries.jobs
    older_than = ago(res.settings.job_history_retention_s)
    total = await delete_in_batches(res.pool, q.prune_job_log, older_than=older_than)
    async with transaction(res.pool) as conn:
        await q.prune_job_statistics(conn, older_than=older_than)
        await q.prune_cron_ticks(conn, older_than=older_than)
    log.info("job history pruned", extra={"deleted": total, "tick": tick.tick.isoformat()})


PRUNE_HISTORY = Entrypoint(
    "jobs.prune_history", CronTick, prune_history, max_attempts=3, concurrency_limit=1
)

ENTRYPOINTS: tuple[Entrypoint[CronTick], ...] = (PRUNE_HISTORY,)
