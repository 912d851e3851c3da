"""The worker: pgqueuer's QueueManager running our entrypoints, and its
SchedulerManager firing cron ticks, each under pgqueuer's supervisor (which
restarts a manager that failed, e.g. while the database was away).

    Worker.run ─┬─ pgqueuer.run(QueueManager) ─► JobExecutor ─► entrypoint handler
                ├─ pgqueuer.run(SchedulerManager) ─► cron.fire ─► enqueue
                └─ queue-depth gauge, every DEPTH_EVERY_S

`stop()` stops claiming; `run()` returns once the jobs in flight have
finished. A job whose worker died keeps status `picked`; when its heartbeat
is WORKER_HEARTBEAT_TIMEOUT_S old, any worker's dequeue takes it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import pgqueuer
from pgqueuer import AsyncpgPoolDriver, Queries, QueueManager, SchedulerManager
from pgqueuer.adapters.tracing.opentelemetry import OpenTelemetryTracing
from pgqueuer.models import Schedule

from lowcode.jobs.cron import CronSchedule, fire
from lowcode.jobs.executor import JobExecutor
from lowcode.jobs.registry import Entrypoint
from lowcode.resources import Resources

log = logging.getLogger("lowcode.jobs.worker")

DEPTH_EVERY_S = 15.0
RESTART_DELAY = timedelta(seconds=5)
# pgqueuer's own connections: its LISTEN connection, dequeue, the status-log
# and heartbeat buffers, retries, and the scheduler. Handlers use the app pool.
PGQUEUER_POOL_MAX = 8


class Worker:
    def __init__(
        self,
        res: Resources,
        entrypoints: Mapping[str, Entrypoint[Any]],
        schedules: Sequence[CronSchedule] = (),
    ) -> None:
        if not entrypoints:
            raise ValueError("a worker needs at least one entrypoint")
        self.res = res
        self.entrypoints = dict(entrypoints)
        self.schedules = list(schedules)
        self.shutdown = asyncio.Event()
        # True while a QueueManager is consuming (readiness).
        self.consuming = False
        self.queue_manager: QueueManager | None = None

    @property
    def concurrency(self) -> int:
        return self.res.settings.worker_concurrency

    @property
    def batch_size(self) -> int:
        # pgqueuer refuses a concurrency below twice the batch size.
        return max(1, min(self.res.settings.worker_batch_size, self.concurrency // 2))

    @property
    def in_flight(self) -> int:
        return len(self.queue_manager.job_context) if self.queue_manager else 0

    def stop(self) -> None:
        """Stop claiming jobs and firing ticks; `run` returns when in-flight jobs are done."""
        self.shutdown.set()

    async def run(self) -> None:
        """Consume (and fire ticks) until `stop()`; returns once in-flight jobs are done.

        pgqueuer.run supervises each manager: one that fails (the database went
        away, say) is rebuilt after RESTART_DELAY while readiness reports it.
        """
        s = self.res.settings
        assert s.database_url is not None
        # pgqueuer passes JSON as text and expects asyncpg's default codecs,
        # so its connections come from a pool of their own, without ours.
        pool = await asyncpg.create_pool(
            s.database_url,
            min_size=1,
            max_size=PGQUEUER_POOL_MAX,
            server_settings={"application_name": "lowcode-worker"},
        )
        assert pool is not None
        try:
            # (pgqueuer.run also puts the working directory on sys.path, for its
            # CLI's `module:attr` factories; ours are passed as callables.)
            tasks = [
                asyncio.create_task(
                    pgqueuer.run(
                        lambda: self._queue_manager(pool),
                        dequeue_timeout=timedelta(seconds=s.worker_poll_s),
                        batch_size=self.batch_size,
                        max_concurrent_tasks=self.concurrency,
                        heartbeat_timeout=timedelta(seconds=s.worker_heartbeat_timeout_s),
                        restart_on_failure=True,
                        restart_delay=RESTART_DELAY,
                        shutdown=self.shutdown,
                    )
                ),
                asyncio.create_task(self._watch_depth()),
            ]
            if self.schedules:
                tasks.append(
                    asyncio.create_task(
                        pgqueuer.run(
                            lambda: self._scheduler(pool),
                            restart_on_failure=True,
                            restart_delay=RESTART_DELAY,
                            shutdown=self.shutdown,
                        )
                    )
                )
            log.info(
                "worker running",
                extra={
                    "entrypoints": sorted(self.entrypoints),
                    "schedules": [f"{c.name} {c.expression}" for c in self.schedules],
                    "concurrency": self.concurrency,
                    "batch_size": self.batch_size,
                },
            )
            await asyncio.gather(*tasks)
        finally:
            await pool.close()

    @contextlib.asynccontextmanager
    async def _queue_manager(self, pool: asyncpg.Pool) -> AsyncIterator[QueueManager]:
        tracing = OpenTelemetryTracing(tracer=self.res.tracer)
        qm = QueueManager(Queries(AsyncpgPoolDriver(pool), tracer=tracing), tracer=tracing)
        for ep in self.entrypoints.values():
            qm.register_executor(ep.name, JobExecutor.build(self.res, ep))
        self.queue_manager = qm
        self.consuming = True
        try:
            yield qm
        finally:
            self.consuming = False

    @contextlib.asynccontextmanager
    async def _scheduler(self, pool: asyncpg.Pool) -> AsyncIterator[SchedulerManager]:
        sm = SchedulerManager(Queries(AsyncpgPoolDriver(pool)))
        for schedule in self.schedules:
            # clean_old: a schedule whose expression changed replaces its old row.
            sm.schedule(schedule.name, schedule.expression, clean_old=True, accepts_context=False)(
                self._firer(schedule)
            )
        yield sm

    def _firer(self, schedule: CronSchedule) -> Callable[[Schedule], Awaitable[None]]:
        async def fire_tick(row: Schedule) -> None:
            await fire(self.res, schedule, row)

        return fire_tick

    async def _watch_depth(self) -> None:
        """Queue depth per entrypoint and state into the gauge, for dashboards
        and autoscaling; every worker reports the same global numbers."""
        gauge = self.res.metrics.jobs_queue_depth
        while not self.shutdown.is_set():
            try:
                async with self.res.pool.acquire() as conn:
                    rows = [r async for r in self.res.queries.jobs.queue_depth(conn)]
            except Exception as e:  # a gauge refresher never takes the worker down
                log.warning("queue depth not read", extra={"error": f"{type(e).__name__}: {e}"})
            else:
                gauge.clear()
                for r in rows:
                    for state in ("ready", "scheduled", "running", "held"):
                        gauge.labels(r.entrypoint, state).set(getattr(r, state))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.shutdown.wait(), DEPTH_EVERY_S)
