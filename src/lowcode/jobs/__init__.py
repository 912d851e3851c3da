"""Background jobs and cron on pgqueuer: typed entrypoints, transactional
enqueue, the `lowcode worker` process and the admin API.

    from lowcode.jobs import Entrypoint, enqueue

    async with transaction(res.pool) as conn:
        ...business write...
        await enqueue(res, conn, SEND_DIGEST, DigestPayload(user_id=...))
"""

from lowcode.jobs.enqueue import enqueue, enqueue_many
from lowcode.jobs.registry import CronTick, Entrypoint, JobContext, PermanentFailure

__all__ = [
    "CronTick",
    "Entrypoint",
    "JobContext",
    "PermanentFailure",
    "enqueue",
    "enqueue_many",
]
