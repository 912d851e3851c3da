"""`lowcode worker` as real processes: probes and metrics on its own port, a
graceful SIGTERM, and a SIGKILL mid-job recovered by another worker."""

import asyncio
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from lowcode.jobs import enqueue
from lowcode.platform.db import transaction
from tests.jobs_support import (
    CREDIT,
    Note,
    create_test_tables,
    job_resources,
    queue_status,
    wait_until,
    worker_env,
)
from tests.processes import LOWCODE


@pytest.fixture(scope="module")
async def res(settings, database_url):
    await create_test_tables(database_url)
    async with job_resources(settings) as resources:
        yield resources


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen([LOWCODE, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)


async def ready(base: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                response = await client.get(f"{base}/health/ready")
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base} never became ready")


async def credit(res, hold_s: float) -> tuple[str, int]:
    key = uuid.uuid4().hex
    async with transaction(res.pool) as conn:
        job_id = await enqueue(res, conn, CREDIT, Note(key=key, hold_s=hold_s))
    assert job_id is not None
    return key, job_id


async def runs_of(conn: asyncpg.Connection, key: str) -> list[int]:
    rows = await conn.fetch("SELECT pid FROM job_test_runs WHERE key = $1 ORDER BY id", key)
    return [r["pid"] for r in rows]


async def test_sigterm_lets_the_running_job_finish_then_the_worker_exits_cleanly(
    res, database_url, redis_url, tmp_path
):
    env = worker_env(database_url, redis_url, WORKER_ENTRYPOINTS=CREDIT.name)
    base = f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}"
    proc = start_worker(env, tmp_path / "worker.log")
    conn = await asyncpg.connect(database_url)
    try:
        checks = (await ready(base)).json()["checks"]
        assert {"database", "schema", "redis", "queue"} <= set(checks)
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{base}/health/live")).json() == {"status": "ok"}
        key, job_id = await credit(res, hold_s=1.5)
        await wait_until(lambda: runs_of(conn, key))
        proc.send_signal(signal.SIGTERM)
        async with httpx.AsyncClient() as client:
            draining = await client.get(f"{base}/health/ready")
            metrics = (await client.get(f"{base}/metrics")).text
        assert draining.status_code == 503
        assert draining.json()["checks"]["shutdown"]["status"] == "fail"
        assert f'lowcode_jobs_started_total{{entrypoint="{CREDIT.name}"}} 1.0' in metrics
        assert await asyncio.to_thread(proc.wait, 30) == 0
        assert await queue_status(conn, job_id) == "successful"
    finally:
        if proc.poll() is None:
            proc.kill()
        await conn.close()
    lines = [json.loads(x) for x in (tmp_path / "worker.log").read_text().splitlines()]
    assert [x["message"] for x in lines][-1] == "worker stopped"


async def test_a_job_whose_worker_is_killed_runs_again_on_another_and_takes_effect_once(
    res, database_url, redis_url, tmp_path
):
    env = worker_env(database_url, redis_url, WORKER_ENTRYPOINTS=CREDIT.name)
    first = start_worker(env, tmp_path / "first.log")
    conn = await asyncpg.connect(database_url)
    second = None
    try:
        await ready(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}")
        key, job_id = await credit(res, hold_s=60)
        await wait_until(lambda: runs_of(conn, key))
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
        assert await queue_status(conn, job_id) == "picked"
        env2 = worker_env(database_url, redis_url, WORKER_ENTRYPOINTS=CREDIT.name)
        second = start_worker(env2, tmp_path / "second.log")
        # Recovered once the dead worker's heartbeat is 2 s stale.
        await wait_until(lambda: _status_is(conn, job_id, "successful"), timeout=30, every=0.1)
        runs = await runs_of(conn, key)
        effects = await conn.fetchval("SELECT count(*) FROM job_test_effects WHERE key = $1", key)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
        await conn.close()
    assert len(runs) == 2 and runs[0] == first.pid and runs[1] == second.pid
    assert effects == 1


async def test_a_job_outliving_the_shutdown_grace_is_left_to_another_worker_not_dropped(
    res, database_url, redis_url, tmp_path
):
    env = worker_env(
        database_url, redis_url, WORKER_ENTRYPOINTS=CREDIT.name, WORKER_SHUTDOWN_TIMEOUT_S="0.5"
    )
    first = start_worker(env, tmp_path / "first.log")
    conn = await asyncpg.connect(database_url)
    second = None
    try:
        await ready(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}")
        key, job_id = await credit(res, hold_s=60)
        await wait_until(lambda: runs_of(conn, key))
        first.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 10) == 3
        assert await queue_status(conn, job_id) == "picked"
        second = start_worker(
            worker_env(database_url, redis_url, WORKER_ENTRYPOINTS=CREDIT.name),
            tmp_path / "second.log",
        )
        await wait_until(lambda: _status_is(conn, job_id, "successful"), timeout=30, every=0.1)
        effects = await conn.fetchval("SELECT count(*) FROM job_test_effects WHERE key = $1", key)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
        await conn.close()
    assert effects == 1
    log = (tmp_path / "first.log").read_text()
    assert "leaving them to another worker" in log


async def _status_is(conn, job_id, status):
    return await queue_status(conn, job_id) == status


def test_worker_refuses_to_start_without_urls(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    proc = subprocess.run(
        [LOWCODE, "worker"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "DATABASE_URL" in proc.stderr
