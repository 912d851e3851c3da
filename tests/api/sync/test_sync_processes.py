"""Syncs end to end with real processes: `lowcode serve`, `lowcode worker`s
and the reference data-sync peer, each in its own process, copying between
two databases. Exact sink contents in each mode with progress on
/ws/events in order; a worker SIGKILLed mid-run (another finishes the run,
no duplicated rows); the peer killed mid-run and restarted (the run ends
FAILED with a clear error, never stuck); a cancel mid-run (CANCELED within
2 s, the overwritten table as it was)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.api.collab.peer import Peer
from tests.api.sources import Source, create_datasource
from tests.api.sync.support import Sink, digest, sink_datasource, slow_view
from tests.jobs_support import worker_env
from tests.peers import PeerProcess
from tests.processes import LOWCODE, ServerProcess, server
from tests.support import Account, signup

ROWS = 120_000
SYNC_ENV = {
    "SYNC_PROGRESS_INTERVAL_S": "0.2",
    "SYNC_POLL_S": "0.2",
    "SYNC_PEER_LOST_S": "30",
    "GRPC_BREAKER_RESET_S": "1",
    "GRPC_RETRY_TIMEOUT_S": "2",
}


@dataclass
class Stack:
    api: ServerProcess
    peer: PeerProcess
    env: dict[str, str]
    logs: Path
    http: httpx.AsyncClient
    user: Account
    workspace: str
    source_ds: str
    sink_ds: str
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        env = worker_env(
            self.env["DATABASE_URL"],
            self.env["REDIS_URL"],
            **self.env,
            WORKER_ENTRYPOINTS="sync.run",
        )
        log = (self.logs / f"worker-{len(self.workers)}.log").open("wb")
        proc = subprocess.Popen([LOWCODE, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(proc)
        return proc

    def ensure_worker(self) -> None:
        if not any(w.poll() is None for w in self.workers):
            self.start_worker()

    async def events(self) -> Peer:
        ws = await connect(
            f"{self.api.ws}/ws/events",
            subprotocols=["lowcode.v1", f"bearer.{self.user.access_token}"],
        )
        peer = Peer(ws)
        await peer.send("ping", {})
        await peer.next("pong")  # subscribed
        return peer

    async def job(self, source_table: str, sink_table: str, mode: str, **extra: Any) -> str:
        body = {
            "name": f"e2e-{uuid.uuid4().hex[:8]}",
            "source": {"type": "table", "datasource_id": self.source_ds, "table": source_table},
            "sink": {"datasource_id": self.sink_ds, "table": sink_table},
            "mode": mode,
            **extra,
        }
        created = await self.http.post(
            f"/api/v1/workspaces/{self.workspace}/sync-jobs", headers=self.user.headers, json=body
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    async def start(self, job_id: str) -> str:
        started = await self.http.post(
            f"/api/v1/sync-jobs/{job_id}/runs", headers=self.user.headers
        )
        assert started.status_code == 202, started.text
        return str(started.json()["id"])

    async def run(self, run_id: str) -> dict[str, Any]:
        got = await self.http.get(f"/api/v1/sync-runs/{run_id}", headers=self.user.headers)
        assert got.status_code == 200, got.text
        return dict(got.json())

    async def until(self, run_id: str, ok: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = await self.run(run_id)
            if ok(run):
                return run
            assert time.monotonic() < deadline, f"run stuck: {run}"
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def sync_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sync-processes")


@pytest.fixture(scope="module")
def own_peer(sync_logs: Path) -> Iterator[PeerProcess]:
    peer = PeerProcess(sync_logs, "seatunnel-e2e", peer="seatunnel")
    peer.start()
    try:
        yield peer
    finally:
        peer.kill()


@pytest.fixture(scope="module")
async def stack(
    settings, sql_peer, own_peer, sync_logs, source: Source, sink: Sink
) -> AsyncIterator[Stack]:
    env = {
        "DATABASE_URL": str(settings.database_url),
        "REDIS_URL": str(settings.redis_url),
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "CALCITE_TARGET": sql_peer.target,
        "SEATUNNEL_TARGET": own_peer.target,
        **SYNC_ENV,
    }
    api = server(settings, sync_logs, "api")
    api.env.update(env | {"VALIDATE_RESPONSES": "true"})
    api.start()
    try:
        async with httpx.AsyncClient(base_url=api.http, timeout=30) as http:
            user = await signup(http, "e2e")
            ws = (
                await http.post("/api/v1/workspaces", headers=user.headers, json={"name": "E2E"})
            ).json()["id"]
            src = await create_datasource(http, user, ws, source)
            dst = await sink_datasource(http, user, ws, source, sink)
            stack = Stack(api, own_peer, env, sync_logs, http, user, ws, src["id"], dst["id"])
            stack.start_worker()
            try:
                yield stack
            finally:
                for worker in stack.workers:
                    if worker.poll() is None:
                        worker.send_signal(signal.SIGTERM)
                for worker in stack.workers:
                    try:
                        worker.wait(15)
                    except subprocess.TimeoutExpired:
                        worker.kill()
    finally:
        api.stop()


def progress_of(peer: Peer, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    frames = [f for f in peer.seen if f.get("payload", {}).get("runId") == run_id]
    return (
        [f["payload"] for f in frames if f["type"] == "sync-run-progress"],
        [f["payload"] for f in frames if f["type"] == "sync-run-finished"],
    )


def assert_in_order(progress: list[dict[str, Any]]) -> None:
    sequences = [p["sequence"] for p in progress]
    assert sequences == sorted(set(sequences)), sequences
    written = [p["rowsWritten"] for p in progress]
    assert written == sorted(written), written


@pytest.mark.parametrize("mode", ["append", "overwrite", "upsert"])
async def test_a_sync_in_each_mode_is_exact_and_its_progress_arrives_in_order(
    stack: Stack, source: Source, sink: Sink, mode: str
):
    stack.ensure_worker()
    view = await slow_view(source, ROWS, seconds=1.5)
    target = f"{mode}_{uuid.uuid4().hex[:8]}"
    if mode == "overwrite":
        await sink.prefill(target, 5000, "stale")
    if mode == "upsert":
        await sink.execute(
            f"CREATE TABLE {target} (id integer PRIMARY KEY, label text, amount numeric(12, 1));"
            f"INSERT INTO {target} SELECT g, 'old', 0 FROM generate_series(1, 50000) g;"
            f"INSERT INTO {target} SELECT g, 'kept', 0 FROM generate_series(500001, 500100) g;"
        )
    keys = {"key_columns": ["id"]} if mode == "upsert" else {}
    job_id = await stack.job(view, target, mode, **keys)
    events = await stack.events()
    run_id = await stack.start(job_id)
    run = await stack.until(run_id, lambda r: r["status"] in ("FINISHED", "FAILED"))
    assert run["status"] == "FINISHED", run
    assert (run["rows_read"], run["rows_written"]) == (ROWS, ROWS)
    await events.next("sync-run-finished", timeout=5)
    progress, finished = progress_of(events, run_id)
    await events.close()
    assert events.violations == []
    assert len(progress) >= 3, progress  # ~1.5 s of copying, a frame every 0.2 s
    assert_in_order(progress)
    assert progress[-1]["rowsWritten"] <= ROWS
    [end] = finished
    assert (end["status"], end["rowsRead"], end["rowsWritten"], end["error"]) == (
        "FINISHED",
        ROWS,
        ROWS,
        None,
    )
    expected = await digest(source.dsn, view)
    if mode == "upsert":
        assert await digest(sink.dsn, f"{target} WHERE id <= {ROWS}") == expected
        rest = await sink.fetch(
            f"SELECT count(*) AS n, min(label) AS l FROM {target} WHERE id > {ROWS}"
        )
        assert (rest[0]["n"], rest[0]["l"]) == (100, "kept")
    else:
        assert await digest(sink.dsn, target) == expected


async def test_a_worker_killed_mid_run_is_replaced_and_the_rows_land_once(
    stack: Stack, source: Source, sink: Sink
):
    stack.ensure_worker()
    [first] = [w for w in stack.workers if w.poll() is None]
    view = await slow_view(source, ROWS, seconds=4)
    target = f"killed_{uuid.uuid4().hex[:8]}"
    await sink.prefill(target, 5000, "stale")
    job_id = await stack.job(view, target, "overwrite")
    events = await stack.events()
    run_id = await stack.start(job_id)
    await stack.until(run_id, lambda r: r["rows_written"] > 0)
    first.send_signal(signal.SIGKILL)
    assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
    stack.start_worker()  # takes the job over once the dead worker's heartbeat is stale
    run = await stack.until(run_id, lambda r: r["status"] in ("FINISHED", "FAILED"), timeout=40)
    assert run["status"] == "FINISHED", run
    assert (run["rows_read"], run["rows_written"]) == (ROWS, ROWS)
    assert await digest(sink.dsn, target) == await digest(source.dsn, view)
    await events.next("sync-run-finished", timeout=5)
    progress, finished = progress_of(events, run_id)
    await events.close()
    assert_in_order(progress)  # the second worker went on from the first's last sequence
    assert [f["status"] for f in finished] == ["FINISHED"]


async def test_a_peer_killed_mid_run_ends_the_run_failed_with_a_clear_error(
    stack: Stack, source: Source, sink: Sink
):
    stack.ensure_worker()
    view = await slow_view(source, ROWS, seconds=4)
    target = f"peerkill_{uuid.uuid4().hex[:8]}"
    await sink.prefill(target, 777, "before")
    before = await digest(sink.dsn, target)
    job_id = await stack.job(view, target, "overwrite")
    run_id = await stack.start(job_id)
    await stack.until(run_id, lambda r: r["rows_written"] > 0)
    stack.peer.kill()
    await asyncio.sleep(0.5)
    stack.peer.start()  # same port: the worker's channels reconnect to a peer that knows nothing
    run = await stack.until(
        run_id, lambda r: r["status"] not in ("QUEUED", "RUNNING", "CANCELING"), timeout=30
    )
    assert run["status"] == "FAILED", run
    assert "no longer knows this run's job" in run["error"] and "start a new run" in run["error"]
    assert await digest(sink.dsn, target) == before  # the peer's transaction died with it


async def test_a_cancel_mid_run_ends_canceled_within_2_s_and_keeps_the_previous_rows(
    stack: Stack, source: Source, sink: Sink
):
    stack.ensure_worker()
    view = await slow_view(source, ROWS, seconds=6)
    target = f"cancel_{uuid.uuid4().hex[:8]}"
    await sink.prefill(target, 1234, "previous")
    before = await digest(sink.dsn, target)
    job_id = await stack.job(view, target, "overwrite")
    events = await stack.events()
    run_id = await stack.start(job_id)
    await stack.until(run_id, lambda r: r["rows_written"] > 0)
    asked = time.monotonic()
    canceled = await stack.http.post(
        f"/api/v1/sync-runs/{run_id}/cancel", headers=stack.user.headers
    )
    assert canceled.status_code == 202 and canceled.json()["status"] == "CANCELING", canceled.text
    run = await stack.until(run_id, lambda r: r["status"] != "CANCELING", timeout=10)
    took = time.monotonic() - asked
    assert run["status"] == "CANCELED" and took < 2.0, (run, took)
    assert await digest(sink.dsn, target) == before
    finished = await events.next("sync-run-finished", timeout=5)
    await events.close()
    assert finished["payload"]["status"] == "CANCELED" and finished["payload"]["runId"] == run_id
