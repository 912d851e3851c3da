"""The sync case: rows/s of a 1M-row PostgreSQL → PostgreSQL run through the
whole path — `POST /api/v1/sync-jobs/{id}/runs` on `lowcode serve`, the
`sync.run` job on `lowcode worker`, SubmitJob/WatchJob to the reference
data-sync peer (`lowcode peers`), which COPYs — until GET shows the run
FINISHED, beside a bare `psql -c "COPY … TO STDOUT" | psql -c "COPY … FROM
STDIN"` pipe between the same two databases, in the same run. Rounds
alternate (ours, bare, ours, bare…), each into a freshly truncated sink
table; the ratio compares the medians. Target: ours >= 0.5 of the pipe. Also
the worker's and the peer's peak RSS (VmHWM), which stay flat however many
rows pass (the peer holds at most its pipe's few chunks).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from lowcode.platform.migrate import run_dbmate
from lowcode.platform.scratch import create_database, drop_database, postgres_server, redis_server
from lowcode.settings import PROJECT_ROOT
from scripts.benchmarks.harness import start, start_service, wait_listening, wait_ready
from tests.ports import free_port

SOURCE_TABLE = """
CREATE TABLE big AS
SELECT g AS id, md5(g::text) AS label, (g * 0.5)::numeric(12, 1) AS amount,
       timestamptz '2026-01-01' + g * interval '1 second' AS at
  FROM generate_series(1, {rows}) AS g;
ALTER TABLE big ADD PRIMARY KEY (id);
"""
SINK_TABLE = "CREATE TABLE big_copy (id integer, label text, amount numeric(12, 1), at timestamptz)"


@contextlib.contextmanager
def databases(work: Path) -> Iterator[tuple[str, str, str, str]]:
    """(our migrated database, source, sink, Redis URL), dropped afterwards."""
    with postgres_server(work) as admin, redis_server(work) as redis_url:
        made = [
            asyncio.run(create_database(admin, p))
            for p in ("lowcode_bench", "bench_src", "bench_sink")
        ]
        try:
            run_dbmate(made[0], PROJECT_ROOT / "migrations", "up")
            yield made[0], made[1], made[2], redis_url
        finally:
            for dsn in made:
                asyncio.run(drop_database(admin, dsn))


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def _sql(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _seed(base: str, src: str, sink: str) -> tuple[dict[str, str], str]:
    """A user, a workspace, both datasources and an append sync job big → big_copy."""
    with httpx.Client(base_url=base, timeout=30) as c:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        c.post(
            "/api/v1/auth/register",
            json={"email": email, "password": "bench-password", "display_name": "Bench"},
        ).raise_for_status()
        token = c.post("/api/v1/auth/login", json={"email": email, "password": "bench-password"})
        h = {"Authorization": f"Bearer {token.json()['access_token']}"}
        ws = c.post("/api/v1/workspaces", headers=h, json={"name": "bench"}).json()["id"]
        ids = []
        for dsn in (src, sink):
            u = urlsplit(dsn)
            ds = c.post(
                f"/api/v1/workspaces/{ws}/datasources",
                headers=h,
                json={
                    "name": u.path.lstrip("/"), "host": u.hostname or "127.0.0.1",
                    "port": u.port or 5432, "database": u.path.lstrip("/"),
                    "username": u.username or "postgres", "password": u.password or "unused",
                    "ssl_mode": "disable",
                },
            )  # fmt: skip
            ds.raise_for_status()
            ids.append(ds.json()["id"])
        job = c.post(
            f"/api/v1/workspaces/{ws}/sync-jobs",
            headers=h,
            json={
                "name": "bench",
                "source": {"type": "table", "datasource_id": ids[0], "table": "big"},
                "sink": {"datasource_id": ids[1], "table": "big_copy"},
                "mode": "append",
            },
        )
        job.raise_for_status()
        return h, job.json()["id"]


def _ours(base: str, headers: dict[str, str], job_id: str) -> tuple[float, dict[str, object]]:
    """Seconds from POST …/runs to GET showing FINISHED, and the run."""
    with httpx.Client(base_url=base, timeout=30) as c:
        start_s = time.perf_counter()
        run = c.post(f"/api/v1/sync-jobs/{job_id}/runs", headers=headers)
        run.raise_for_status()
        run_id = run.json()["id"]
        while True:
            got = c.get(f"/api/v1/sync-runs/{run_id}", headers=headers).json()
            if got["status"] not in ("QUEUED", "RUNNING"):
                elapsed = time.perf_counter() - start_s
                if got["status"] != "FINISHED":
                    raise RuntimeError(f"bench run ended {got['status']}: {got['error']}")
                return elapsed, got
            time.sleep(0.01)


def _bare(src: str, sink: str) -> float:
    start_s = time.perf_counter()
    out = subprocess.Popen(
        ["psql", "-X", "-q", src, "-c", "COPY big TO STDOUT"], stdout=subprocess.PIPE
    )
    into = subprocess.run(
        ["psql", "-X", "-q", sink, "-c", "COPY big_copy FROM STDIN"],
        stdin=out.stdout, capture_output=True, text=True,
    )  # fmt: skip
    assert out.stdout is not None
    out.stdout.close()
    if out.wait() or into.returncode:
        raise RuntimeError(f"psql pipe failed: {into.stderr}")
    return time.perf_counter() - start_s


def run(work: Path, rows: int, rounds: int = 3) -> dict[str, object]:
    if shutil.which("psql") is None:
        sys.exit("bench sync: the baseline needs psql (apt-get install postgresql-client)")
    with databases(work) as (dsn, src, sink, redis_url):
        asyncio.run(_sql(src, SOURCE_TABLE.format(rows=rows)))
        asyncio.run(_sql(sink, SINK_TABLE))
        peer_port = free_port()
        env = {
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"bench:{uuid.uuid4().hex[:6]}:",
            "SEATUNNEL_TARGET": f"127.0.0.1:{peer_port}",
            "LOG_LEVEL": "WARNING",
            "WORKER_ENTRYPOINTS": "sync.run",
            "WORKER_METRICS_PORT": str(free_port()),
            "WORKER_POLL_S": "1",
            "CRON_SCHEDULES": "{}",
        }
        peer = start(
            [sys.executable, "-m", "lowcode_peers", f"--listen=seatunnel=127.0.0.1:{peer_port}"],
            {"LOG_LEVEL": "WARNING"},
            work / "sync-peer.log",
            peer_port,
        )
        api = start_service(env, work / "sync-api.log")
        worker = start(
            [str(Path(sys.executable).parent / "lowcode"), "worker"],
            env,
            work / "sync-worker.log",
            0,
        )
        try:
            wait_listening(peer_port)
            wait_ready(f"{api.base}/health/ready")
            wait_ready(f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/health/ready")
            headers, job_id = _seed(api.base, src, sink)
            _ours(api.base, headers, job_id)  # warm-up: connections, plans
            ours: list[float] = []
            bare: list[float] = []
            for _ in range(rounds):
                asyncio.run(_sql(sink, "TRUNCATE big_copy"))
                seconds, finished = _ours(api.base, headers, job_id)
                assert finished["rows_written"] == rows, finished
                ours.append(seconds)
                asyncio.run(_sql(sink, "TRUNCATE big_copy"))
                bare.append(_bare(src, sink))
            worker_rss = peak_rss_mib(worker.proc.pid)
            peer_rss = peak_rss_mib(peer.proc.pid)
        finally:
            for server in (worker, api, peer):
                server.stop()
    ours_rps = rows / statistics.median(ours)
    bare_rps = rows / statistics.median(bare)
    ratio = ours_rps / bare_rps
    print(f"sync: {rows:,} rows Postgres → Postgres (append), {rounds} alternating rounds")
    for name, rps, runs in (
        ("lowcode (API → worker → peer)", ours_rps, ours),
        ("psql COPY | psql COPY", bare_rps, bare),
    ):
        print(f"  {name:<32} {rps:>10,.0f} rows/s   median {statistics.median(runs):.2f} s")
    print(f"  ratio {ratio:.2f} of the bare pipe (target >= 0.50)")
    print(f"  peak RSS: worker {worker_rss:.0f} MiB, peer {peer_rss:.0f} MiB")
    return {
        "rows": rows,
        "ours_s": ours,
        "bare_s": bare,
        "ours_rows_per_s": ours_rps,
        "bare_rows_per_s": bare_rps,
        "ratio": ratio,
        "worker_peak_rss_mib": worker_rss,
        "peer_peak_rss_mib": peer_rss,
    }
