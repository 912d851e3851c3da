"""Cron work of the pages context: op-log compaction (CRON_SCHEDULES)."""

from __future__ import annotations

import logging

from lowcode.jobs.maintenance import ago, delete_in_batches
from lowcode.jobs.registry import CronTick, Entrypoint, JobContext

log = logging.getLogger("lowcode.pages.jobs")


async def compact_page_ops(ctx: JobContext, tick: CronTick) -> None:
    """Delete page ops no read needs any more (see queries/pages/compaction.sql)."""
    res = ctx.res
    s = res.settings
    total = await delete_in_batches(
        res.pool,
        res.queries.pages.compact_page_ops,
        keep_revisions=s.page_ops_keep_revisions,
        older_than=ago(s.page_ops_retention_s),
    )
    log.info("page ops compacted", extra={"deleted": total, "tick": tick.tick.isoformat()})


COMPACT_PAGE_OPS = Entrypoint(
    "pages.compact_ops", CronTick, compact_page_ops, max_attempts=3, concurrency_limit=1
)

ENTRYPOINTS: tuple[Entrypoint[CronTick], ...] = (COMPACT_PAGE_OPS,)
