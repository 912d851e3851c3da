"""Built-in periodic work: expired-session cleanup, page-op compaction and
pruning of job history. Each runs from a cron schedule (CRON_SCHEDULES) and
is idempotent: a re-run after a crash deletes nothing twice."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from lowcode.jobs.registry import CronTick, Entrypoint, JobContext
from lowcode.platform.db import transaction

log = logging.getLogger("lowcode.jobs.maintenance")

# Rows one statement deletes, so no batch holds its locks for long.
BATCH_ROWS = 5000


def _ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


async def cleanup_sessions(ctx: JobContext, tick: CronTick) -> None:
    """Delete sessions that expired or were revoked SESSION_RETENTION_S ago
    (their refresh tokens go with them)."""
    res = ctx.res
    async with transaction(res.pool) as conn:
        deleted = await res.queries.identity.delete_expired_sessions(
            conn, older_than=_ago(res.settings.session_retention_s)
        )
    log.info("expired sessions deleted", extra={"deleted": deleted, "tick": tick.tick.isoformat()})


async def compact_page_ops(ctx: JobContext, tick: CronTick) -> None:
    """Delete page ops no read needs any more (see queries/pages/compaction.sql)."""
    res = ctx.res
    s = res.settings
    older_than = _ago(s.page_ops_retention_s)
    total = 0
    while True:
        async with transaction(res.pool) as conn:
            deleted = await res.queries.pages.compact_page_ops(
                conn,
                keep_revisions=s.page_ops_keep_revisions,
                older_than=older_than,
                max_rows=BATCH_ROWS,
            )
        total += deleted
        if deleted < BATCH_ROWS:
            break
    log.info("page ops compacted", extra={"deleted": total, "tick": tick.tick.isoformat()})


async def prune_history(ctx: JobContext, tick: CronTick) -> None:
    """Drop job log, statistics and cron-tick rows older than JOB_HISTORY_RETENTION_S."""
    res = ctx.res
    q = res.queries.jobs
    older_than = _ago(res.settings.job_history_retention_s)
    total = 0
    while True:
        async with transaction(res.pool) as conn:
            deleted = await q.prune_job_log(conn, older_than=older_than, max_rows=BATCH_ROWS)
        total += deleted
        if deleted < BATCH_ROWS:
            break
    async with transaction(res.pool) as conn:
        await q.prune_job_statistics(conn, older_than=older_than)
        await q.prune_cron_ticks(conn, older_than=older_than)
    log.info("job history pruned", extra={"deleted": total, "tick": tick.tick.isoformat()})


CLEANUP_SESSIONS = Entrypoint(
    "identity.cleanup_sessions", CronTick, cleanup_sessions, max_attempts=3, concurrency_limit=1
)
COMPACT_PAGE_OPS = Entrypoint(
    "pages.compact_ops", CronTick, compact_page_ops, max_attempts=3, concurrency_limit=1
)
PRUNE_HISTORY = Entrypoint(
    "jobs.prune_history", CronTick, prune_history, max_attempts=3, concurrency_limit=1
)

ENTRYPOINTS: tuple[Entrypoint[CronTick], ...] = (CLEANUP_SESSIONS, COMPACT_PAGE_OPS, PRUNE_HISTORY)
