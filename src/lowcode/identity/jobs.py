"""Cron work of the identity context: expired-session cleanup (CRON_SCHEDULES)."""

from __future__ import annotations

import logging

from lowcode.jobs.maintenance import ago
from lowcode.jobs.registry import CronTick, Entrypoint, JobContext
from lowcode.platform.db import transaction

log = logging.getLogger("lowcode.identity.jobs")


async def cleanup_sessions(ctx: JobContext, tick: CronTick) -> None:
    """Delete sessions that expired or were revoked SESSION_RETENTION_S ago
    (their refresh tokens go with them)."""
    res = ctx.res
    async with transaction(res.pool) as conn:
        deleted = await res.queries.identity.delete_expired_sessions(
            conn, older_than=ago(res.settings.session_retention_s)
        )
    log.info("expired sessions deleted", extra={"deleted": deleted, "tick": tick.tick.isoformat()})


CLEANUP_SESSIONS = Entrypoint(
    "identity.cleanup_sessions", CronTick, cleanup_sessions, max_attempts=3, concurrency_limit=1
)

ENTRYPOINTS: tuple[Entrypoint[CronTick], ...] = (CLEANUP_SESSIONS,)
