"""The jobs baseline: pgqueuer's own QueueManager loop and nothing of ours —
one no-op entrypoint, an asyncpg pool, uvloop, the same batch size and
concurrency as the worker under test. SIGTERM stops it."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

import asyncpg
import uvloop
from pgqueuer import Queries, QueueManager
from pgqueuer.models import Job


async def main() -> None:
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=8)
    assert pool is not None
    qm = QueueManager(Queries.from_asyncpg_pool(pool))

    @qm.entrypoint("bench.bare")
    async def noop(job: Job) -> None:
        return None

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, qm.shutdown.set)
    await qm.run(
        dequeue_timeout=timedelta(seconds=10),
        batch_size=int(os.environ["BATCH"]),
        max_concurrent_tasks=int(os.environ["CONCURRENCY"]),
    )
    await pool.close()


if __name__ == "__main__":
    uvloop.run(main())
