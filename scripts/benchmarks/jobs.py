"""The jobs case: no-op jobs/s through `lowcode worker` with N pending,
beside pgqueuer's bare QueueManager loop (jobs_bare.py) on the same database,
with the same batch size and concurrency; and the enqueue rate of
`lowcode.jobs.enqueue` beside pgqueuer's `Queries.enqueue`.

Each drain: the worker is started and proven consuming (a warm-up batch), N
jobs are enqueued in one transaction, and the clock runs from its commit to
the moment none is left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
from opentelemetry.trace import NoOpTracer
from pgqueuer import Queries
from pgqueuer.db import AsyncpgDriver

from lowcode.jobs import enqueue, enqueue_many
from lowcode.platform.db import transaction
from lowcode.platform.metrics import Metrics
from lowcode.resources import Resources, open_resources
from lowcode.settings import PROJECT_ROOT, Settings
from scripts.benchmarks.harness import wait_ready
from scripts.benchmarks.jobs_noop import NOOP, PARKED, Noop
from tests.ports import free_port

BATCH = 100
CONCURRENCY = 200
SINGLE_ENQUEUES = 2000
ENQUEUERS = 16


@dataclass
class Drain:
    jobs: int
    enqueue_s: float
    drain_s: float

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.drain_s

    @property
    def enqueue_per_s(self) -> float:
        return self.jobs / self.enqueue_s


async def _pending(conn: asyncpg.Connection, entrypoint: str) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM pgqueuer WHERE entrypoint = $1", entrypoint)
    )


async def _drained(conn: asyncpg.Connection, entrypoint: str, timeout_s: float = 300) -> float:
    """Seconds until no job of `entrypoint` is left."""
    start = time.perf_counter()
    while await _pending(conn, entrypoint):
        if time.perf_counter() - start > timeout_s:
            raise RuntimeError(f"{entrypoint}: not drained in {timeout_s}s")
        await asyncio.sleep(0.01)
    return time.perf_counter() - start


async def _drains(
    dsn: str,
    entrypoint: str,
    count: int,
    rounds: int,
    put: Callable[[asyncpg.Connection, int], Awaitable[None]],
) -> Drain:
    """The median of `rounds` drains of `count` jobs, after a warm-up."""
    conn = await asyncpg.connect(dsn)
    try:
        await put(conn, 200)  # warm-up: proves the worker consumes
        await _drained(conn, entrypoint, timeout_s=60)
        results = []
        for _ in range(rounds):
            await conn.execute("VACUUM ANALYZE pgqueuer")
            start = time.perf_counter()
            await put(conn, count)
            enqueued = time.perf_counter() - start
            results.append(Drain(count, enqueued, await _drained(conn, entrypoint)))
        return Drain(
            count,
            statistics.median(r.enqueue_s for r in results),
            statistics.median(r.drain_s for r in results),
        )
    finally:
        await conn.close()


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


async def _each(one: Callable[[int], Awaitable[None]], items: range) -> None:
    for i in items:
        await one(i)


async def _enqueue_rate(res: Resources, dsn: str, rounds: int) -> dict[str, float]:
    """Jobs/s enqueued one per transaction by ENQUEUERS tasks, ours and pgqueuer's."""

    async def ours(i: int) -> None:
        async with transaction(res.pool) as conn:
            await enqueue(res, conn, PARKED, Noop(n=i))

    bare_pool = await asyncpg.create_pool(dsn, min_size=ENQUEUERS, max_size=ENQUEUERS)
    assert bare_pool is not None

    async def bare(i: int) -> None:
        async with bare_pool.acquire() as conn, conn.transaction():
            await Queries(AsyncpgDriver(conn)).enqueue("bench.parked_bare", b'{"n": %d}' % i)

    samples: dict[str, list[float]] = {"ours": [], "pgqueuer": []}
    try:
        for _ in range(rounds):
            for name, one in (("ours", ours), ("pgqueuer", bare)):
                start = time.perf_counter()
                await asyncio.gather(
                    *(_each(one, range(k, SINGLE_ENQUEUES, ENQUEUERS)) for k in range(ENQUEUERS))
                )
                samples[name].append(SINGLE_ENQUEUES / (time.perf_counter() - start))
        rates = {name: statistics.median(values) for name, values in samples.items()}
        async with bare_pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM pgqueuer WHERE entrypoint IN ('bench.parked', 'bench.parked_bare')"
            )
    finally:
        await bare_pool.close()
    return rates


async def run(
    work: Path, dsn: str, redis_url: str, count: int, rounds: int = 3
) -> dict[str, object]:
    settings = Settings(
        DATABASE_URL=dsn,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=f"bench:{uuid.uuid4().hex[:6]}:",
        DB_POOL_MAX=ENQUEUERS + 2,
    )
    async with open_resources(settings, Metrics(), NoOpTracer()) as res:
        rates = await _enqueue_rate(res, dsn, rounds)

        async def put_ours(conn: asyncpg.Connection, n: int) -> None:
            async with conn.transaction():
                await enqueue_many(res, conn, NOOP, [Noop(n=i) for i in range(n)])

        async def put_bare(conn: asyncpg.Connection, n: int) -> None:
            async with conn.transaction():
                await Queries(AsyncpgDriver(conn)).enqueue(
                    ["bench.bare"] * n, [b'{"n": %d}' % i for i in range(n)], [0] * n
                )

        port = free_port()
        worker = _spawn(
            [str(Path(sys.executable).parent / "lowcode"), "worker"],
            {
                "DATABASE_URL": dsn,
                "REDIS_URL": redis_url,
                "PYTHONPATH": str(PROJECT_ROOT),
                "WORKER_IMPORTS": "scripts.benchmarks.jobs_noop:ENTRYPOINTS",
                "WORKER_ENTRYPOINTS": NOOP.name,
                "WORKER_BATCH_SIZE": str(BATCH),
                "WORKER_CONCURRENCY": str(CONCURRENCY),
                "WORKER_METRICS_PORT": str(port),
                "HOST": "127.0.0.1",
                "CRON_SCHEDULES": "{}",
                "LOG_LEVEL": "INFO",
            },
            work / "worker.log",
        )
        try:
            await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}/health/ready")
            ours = await _drains(dsn, NOOP.name, count, rounds, put_ours)
        finally:
            _stop(worker)
        bare_proc = _spawn(
            [sys.executable, "-m", "scripts.benchmarks.jobs_bare"],
            {"DATABASE_URL": dsn, "BATCH": str(BATCH), "CONCURRENCY": str(CONCURRENCY)},
            work / "bare.log",
        )
        try:
            bare = await _drains(dsn, "bench.bare", count, rounds, put_bare)
        finally:
            _stop(bare_proc)
    return {"ours": ours, "pgqueuer": bare, "single_enqueue_per_s": rates}


def report(count: int, result: dict[str, object]) -> dict[str, object]:
    ours, bare = result["ours"], result["pgqueuer"]
    rates = result["single_enqueue_per_s"]
    assert isinstance(ours, Drain) and isinstance(bare, Drain) and isinstance(rates, dict)
    ratio = ours.jobs_per_s / bare.jobs_per_s
    print(
        f"jobs: {count} no-op jobs pending, batch {BATCH}, concurrency {CONCURRENCY}, 1 worker"
        " (median of 3 drains)"
    )
    for name, drain in (("lowcode worker", ours), ("pgqueuer bare loop", bare)):
        print(f"  {name:<22} {drain.jobs_per_s:>9.0f} jobs/s   drained in {drain.drain_s:.2f}s")
    print(f"  ratio {ratio:.2f} of baseline; target >= 1000 jobs/s")
    print(
        f"  enqueue, {count} in one transaction: ours {ours.enqueue_per_s:.0f}/s,"
        f" pgqueuer {bare.enqueue_per_s:.0f}/s"
    )
    print(
        f"  enqueue, one per transaction x{ENQUEUERS}: ours {rates['ours']:.0f}/s,"
        f" pgqueuer {rates['pgqueuer']:.0f}/s"
    )
    return {
        "ours": {
            **asdict(ours),
            "jobs_per_s": ours.jobs_per_s,
            "enqueue_per_s": ours.enqueue_per_s,
        },
        "pgqueuer": {
            **asdict(bare),
            "jobs_per_s": bare.jobs_per_s,
            "enqueue_per_s": bare.enqueue_per_s,
        },
        "ratio": ratio,
        "single_enqueue_per_s": rates,
    }
