"""Helpers the job tests share: fast timers, an in-process worker, probe
entrypoints, and the entrypoints `lowcode worker` subprocesses import
(WORKER_IMPORTS=tests.jobs_support:ENTRYPOINTS), which record what they do in
tables of their own so the test can read it back from Postgres."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from opentelemetry.trace import NoOpTracer, Tracer
from pydantic import BaseModel

from lowcode.jobs import CronTick, Entrypoint, JobContext
from lowcode.jobs.cron import CronSchedule
from lowcode.jobs.worker import Worker
from lowcode.platform.db import transaction
from lowcode.platform.metrics import Metrics
from lowcode.resources import Resources, open_resources
from lowcode.settings import PROJECT_ROOT, Settings
from tests.ports import free_port

# Timers short enough for a test, long enough for a loaded CI machine.
FAST = {
    "JOB_RETRY_BASE_S": 0.05,
    "JOB_RETRY_MAX_S": 0.2,
    "WORKER_HEARTBEAT_TIMEOUT_S": 2.0,
    "WORKER_POLL_S": 1.0,
    "WORKER_SHUTDOWN_TIMEOUT_S": 10.0,
    "WORKER_CONCURRENCY": 20,
    "WORKER_BATCH_SIZE": 10,
}


def fast_settings(settings: Settings, **overrides: Any) -> Settings:
    """`settings` with FAST and `overrides` (both by environment name) applied."""
    values = {**FAST, **overrides}
    return settings.model_copy(update={k.lower(): v for k, v in values.items()})


@asynccontextmanager
async def job_resources(
    settings: Settings, tracer: Tracer | None = None, **overrides: Any
) -> AsyncIterator[Resources]:
    async with open_resources(
        fast_settings(settings, **overrides), Metrics(), tracer or NoOpTracer()
    ) as res:
        yield res


@asynccontextmanager
async def running_worker(
    res: Resources, *entrypoints: Entrypoint[Any], schedules: tuple[CronSchedule, ...] = ()
) -> AsyncIterator[Worker]:
    """A Worker on `res` for `entrypoints`, consuming until the block ends."""
    worker = Worker(res, {ep.name: ep for ep in entrypoints}, schedules)
    task = asyncio.create_task(worker.run())
    try:
        await wait_until(lambda: worker.consuming or task.done())
        if task.done():
            task.result()
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


async def wait_until(
    predicate: Callable[[], object | Awaitable[object]], timeout: float = 15, every: float = 0.02
) -> None:
    """Poll until `predicate()` (sync or async) is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = predicate()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(every)


def unique(name: str) -> str:
    """Entrypoint names are global in the queue table; each test uses its own."""
    return f"tests.{name}.{uuid.uuid4().hex[:8]}"


async def queue_status(conn: asyncpg.Connection, job_id: int) -> str | None:
    """The job's status in the queue table, or the last one logged once it left."""
    status = await conn.fetchval("SELECT status::text FROM pgqueuer WHERE id = $1", job_id)
    if status is not None:
        return str(status)
    logged = await conn.fetchval(
        "SELECT status::text FROM pgqueuer_log WHERE job_id = $1 ORDER BY id DESC LIMIT 1", job_id
    )
    return None if logged is None else str(logged)


async def job_status(res: Resources, job_id: int) -> str | None:
    async with res.pool.acquire() as conn:
        return await queue_status(conn, job_id)


class Note(BaseModel):
    key: str
    fail_times: int = 0
    hold_s: float = 0.0


# --- entrypoints for `lowcode worker` subprocesses ---------------------------

TABLES = """
CREATE TABLE IF NOT EXISTS job_test_runs (
    id     bigserial   PRIMARY KEY,
    key    text        NOT NULL,
    pid    integer     NOT NULL,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS job_test_effects (
    key    text        PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS job_test_ticks (
    id     bigserial   PRIMARY KEY,
    tick   timestamptz NOT NULL,
    pid    integer     NOT NULL,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""


async def create_test_tables(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(TABLES)
    finally:
        await conn.close()


async def credit_once(ctx: JobContext, note: Note) -> None:
    """An idempotent handler: the effect is keyed, so a second run adds nothing.
    The first run holds on after its effect so a test can kill the worker."""
    async with transaction(ctx.res.pool) as conn:
        earlier = await conn.fetchval("SELECT count(*) FROM job_test_runs WHERE key = $1", note.key)
        await conn.execute(
            "INSERT INTO job_test_runs (key, pid) VALUES ($1, $2)", note.key, os.getpid()
        )
    async with transaction(ctx.res.pool) as conn:
        await conn.execute(
            "INSERT INTO job_test_effects (key) VALUES ($1) ON CONFLICT DO NOTHING", note.key
        )
    if earlier == 0:
        await asyncio.sleep(note.hold_s)


async def record_tick(ctx: JobContext, tick: CronTick) -> None:
    async with transaction(ctx.res.pool) as conn:
        await conn.execute(
            "INSERT INTO job_test_ticks (tick, pid) VALUES ($1, $2)", tick.tick, os.getpid()
        )


CREDIT = Entrypoint("tests.credit_once", Note, credit_once)
TICK_PROBE = Entrypoint("tests.tick_probe", CronTick, record_tick)
ENTRYPOINTS = (CREDIT, TICK_PROBE)


def worker_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `lowcode worker` subprocess running ENTRYPOINTS."""
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"lctest:{uuid.uuid4().hex[:8]}:",
        "WORKER_IMPORTS": "tests.jobs_support:ENTRYPOINTS",
        "WORKER_METRICS_PORT": str(free_port()),
        "HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
        "CRON_SCHEDULES": "{}",
        **{k: str(v) for k, v in FAST.items()},
        **extra,
    }
