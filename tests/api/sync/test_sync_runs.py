"""Runs followed by an in-process worker against the reference data-sync peer
(its own process): rows copied exactly, the peer's own failure message on a
FAILED run, one trace from the HTTP request through the job to the gRPC
calls, no password in logs, spans or the peer's log, schedules firing once
per tick, and runs whose worker job vanished reaped."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from lowcode.jobs.registry import CronTick, JobContext
from lowcode.sync.jobs import SYNC_RUN
from lowcode.sync.schedule import reap_runs, start_due_runs
from tests.api.sources import create_dataset, create_datasource
from tests.api.sync.support import (
    create_job,
    digest,
    job_body,
    sink_datasource,
    slow_view,
    wait_for_run,
)
from tests.jobs_support import job_resources, job_status, running_worker
from tests.peers import PeerProcess
from tests.support import add_member, make_workspace, signup

FAST_SYNC = {"SYNC_PROGRESS_INTERVAL_S": 0.2, "SYNC_POLL_S": 0.2}


@pytest.fixture(scope="module")
async def team(client, source, sink):
    owner = await signup(client, "runs-owner")
    editor = await signup(client, "runs-editor")
    ws = await make_workspace(client, owner, "Runs")
    await add_member(client, owner, ws, editor, "editor")
    passwords = [f"pw-secret-{uuid.uuid4().hex}" for _ in range(2)]
    src = await create_datasource(client, owner, ws, source, password=passwords[0])
    dst = await sink_datasource(client, owner, ws, source, sink, password=passwords[1])
    return {
        "owner": owner,
        "editor": editor,
        "ws": ws,
        "src": src,
        "dst": dst,
        "passwords": passwords,
    }


@pytest.fixture
async def worker(settings, spans):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    async with (
        job_resources(settings, tracer=provider.get_tracer("worker"), **FAST_SYNC) as res,
        running_worker(res, SYNC_RUN) as running,
    ):
        yield res, running


async def start(client, account, job_id: str) -> dict:
    response = await client.post(f"/api/v1/sync-jobs/{job_id}/runs", headers=account.headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def test_a_run_copies_the_rows_and_ends_finished_in_one_trace(
    client, team, worker, sink, spans, sync_peer, logs
):
    editor = team["editor"]
    name = f"orders_{uuid.uuid4().hex[:6]}"
    body = job_body(
        {"type": "table", "datasource_id": team["src"]["id"], "table": "orders"},
        {"datasource_id": team["dst"]["id"], "table": name},
        "upsert",
        key_columns=["id"],
    )
    job = (await create_job(client, editor, team["ws"], body)).json()
    spans.clear()
    run = await start(client, editor, job["id"])
    done = await wait_for_run(client, editor, run["id"], {"FINISHED", "FAILED"})
    assert done["status"] == "FINISHED", done
    assert (done["rows_read"], done["rows_written"], done["peer_status"]) == (4, 4, "FINISHED")
    assert done["started_at"] and done["finished_at"] and done["error"] is None
    rows = await sink.fetch(f'SELECT id, total FROM "{name}" ORDER BY id')
    assert [(r["id"], str(r["total"])) for r in rows] == [
        (1, "120.50"), (2, "310.00"), (3, "99.99"), (4, "1000.01"),
    ]  # fmt: skip
    # One trace: the HTTP request, the job it enqueued, the job's gRPC calls.
    await asyncio.sleep(0.2)
    finished = spans.get_finished_spans()
    # The POST that started this run (a run of the test before may still be
    # finishing spans of its own: pick this run's request by its trace).
    [process] = [s for s in finished if s.name == "process sync.run"]
    trace_id = process.context.trace_id
    posts = [
        s for s in finished
        if s.kind.name == "SERVER" and s.name.startswith("POST") and "/runs" in s.name
        and s.context.trace_id == trace_id
    ]  # fmt: skip
    assert len(posts) == 1, posts
    submit = [s for s in finished if s.name == "grpc seatunnel/SubmitJob"]
    watch = [s for s in finished if s.name == "grpc seatunnel/WatchJob"]
    assert submit and watch
    assert all(s.context.trace_id == trace_id for s in submit + watch)
    assert submit[0].parent is not None and submit[0].parent.span_id == process.context.span_id
    trace_hex = format(trace_id, "032x")
    peer_calls = [c for c in sync_peer.calls() if trace_hex in str(c.get("traceparent"))]
    assert {c["method"] for c in peer_calls} >= {
        "/seatunnel.v1.JobService/SubmitJob", "/seatunnel.v1.JobService/WatchJob",
    }  # fmt: skip
    # No datasource password anywhere: our logs, span attributes, the peer's log.
    for password in team["passwords"]:
        assert password not in logs.text()
        assert password not in sync_peer.log.read_text()
        assert not any(password in str(dict(s.attributes or {})) for s in finished)


async def test_a_source_query_that_fails_on_the_way_ends_failed_with_the_peers_message(
    client, team, worker
):
    editor = team["editor"]
    dataset = await create_dataset(
        client,
        editor,
        team["ws"],
        team["src"]["id"],
        "SELECT id, 100 / (id - 3) AS ratio FROM orders",
    )
    assert dataset.status_code == 201, dataset.text
    body = job_body(
        {"type": "dataset", "dataset_id": dataset.json()["id"]},
        {"datasource_id": team["dst"]["id"], "table": f"ratios_{uuid.uuid4().hex[:6]}"},
    )
    created = await create_job(client, editor, team["ws"], body)
    assert created.status_code == 201, created.text
    run = await start(client, editor, created.json()["id"])
    done = await wait_for_run(client, editor, run["id"], {"FINISHED", "FAILED"})
    assert done["status"] == "FAILED" and done["peer_status"] == "FAILED"
    assert "division by zero" in done["error"], done


async def test_a_schedule_starts_one_run_per_tick_for_the_jobs_owner(
    client, team, settings, database_url
):
    owner = team["owner"]
    body = job_body(
        {"type": "table", "datasource_id": team["src"]["id"], "table": "orders"},
        {"datasource_id": team["dst"]["id"], "table": "orders_copy"},
        schedule="0 3 * * *",
    )
    job = (await create_job(client, owner, team["ws"], body)).json()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE sync_jobs SET next_run_at = now() - interval '1 minute' WHERE id = $1",
            uuid.UUID(job["id"]),
        )
    finally:
        await conn.close()
    tick = CronTick(schedule="sync.schedule", tick=datetime.now(UTC))
    async with job_resources(settings) as res:
        ctx = JobContext(res, 0, "sync.schedule", 1, None)
        # Two dispatchers at once (two workers handed the same tick): one run.
        await asyncio.gather(start_due_runs(ctx, tick), start_due_runs(ctx, tick))
        await start_due_runs(ctx, tick)
    runs = await client.get(f"/api/v1/sync-jobs/{job['id']}/runs", headers=owner.headers)
    [run] = runs.json()["items"]
    assert (run["trigger"], run["requested_by"], run["status"]) == ("schedule", None, "QUEUED")
    moved = await client.get(f"/api/v1/sync-jobs/{job['id']}", headers=owner.headers)
    next_run = datetime.fromisoformat(moved.json()["next_run_at"])
    assert next_run > datetime.now(UTC) and (next_run.hour, next_run.minute) == (3, 0)
    await client.post(f"/api/v1/sync-runs/{run['id']}/cancel", headers=owner.headers)


async def test_a_run_whose_worker_job_is_gone_is_reaped_as_failed(
    client, team, settings, database_url
):
    editor = team["editor"]
    body = job_body(
        {"type": "table", "datasource_id": team["src"]["id"], "table": "orders"},
        {"datasource_id": team["dst"]["id"], "table": "orders_copy"},
    )
    job = (await create_job(client, editor, team["ws"], body)).json()
    run = await start(client, editor, job["id"])
    conn = await asyncpg.connect(database_url)
    try:  # an admin deleted the job; the run has been quiet for a while
        await conn.execute("DELETE FROM pgqueuer WHERE id = $1", run["job_id"])
        await conn.execute(
            "UPDATE sync_runs SET updated_at = now() - interval '5 minutes' WHERE id = $1",
            uuid.UUID(run["id"]),
        )
    finally:
        await conn.close()
    async with job_resources(settings) as res:
        await reap_runs(
            JobContext(res, 0, "sync.reap_runs", 1, None),
            CronTick(schedule="x", tick=datetime.now(UTC)),
        )
    done = (await client.get(f"/api/v1/sync-runs/{run['id']}", headers=editor.headers)).json()
    assert done["status"] == "FAILED" and "worker job ended without finishing it" in done["error"]
    assert datetime.fromisoformat(done["finished_at"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_without_watchjob_the_worker_polls_getjob_and_still_records_progress(
    client, team, settings, work_dir, source, sink
):
    """A gateway without push (WatchJob UNIMPLEMENTED): GetJob polling carries the run."""
    peer = PeerProcess(
        work_dir, "seatunnel-nowatch", peer="seatunnel", env={"PEERS_SYNC_WATCH": "off"}
    )
    peer.start()
    try:
        view = await slow_view(source, rows=30_000, seconds=1.2)
        body = job_body(
            {"type": "table", "datasource_id": team["src"]["id"], "table": view},
            {"datasource_id": team["dst"]["id"], "table": f"polled_{uuid.uuid4().hex[:6]}"},
        )
        job = (await create_job(client, team["editor"], team["ws"], body)).json()
        overrides = {**FAST_SYNC, "SEATUNNEL_TARGET": peer.target}
        async with (
            job_resources(settings, **overrides) as res,
            running_worker(res, SYNC_RUN),
        ):
            run = await start(client, team["editor"], job["id"])
            seen = []
            while (
                current := await wait_for_run(
                    client, team["editor"], run["id"], {"RUNNING", "FINISHED", "FAILED"}
                )
            )["status"] == "RUNNING":
                seen.append(current["rows_written"])
                await asyncio.sleep(0.1)
        assert current["status"] == "FINISHED", current
        assert current["rows_written"] == 30_000
        assert any(0 < n < 30_000 for n in seen), seen  # progress while it ran
        assert res.metrics.sync_runs.labels("FINISHED")._value.get() == 1
        calls = {c["method"] for c in peer.calls()}
        assert "/seatunnel.v1.JobService/GetJob" in calls
    finally:
        peer.stop()


async def test_a_stopping_worker_hands_its_run_back_and_another_finishes_it(
    client, team, settings, source, sink
):
    view = await slow_view(source, rows=40_000, seconds=2.5)
    target = f"handed_{uuid.uuid4().hex[:6]}"
    body = job_body(
        {"type": "table", "datasource_id": team["src"]["id"], "table": view},
        {"datasource_id": team["dst"]["id"], "table": target},
    )
    job = (await create_job(client, team["editor"], team["ws"], body)).json()
    async with (
        job_resources(settings, **FAST_SYNC) as first,
        running_worker(first, SYNC_RUN) as stopping,
    ):
        run = await start(client, team["editor"], job["id"])
        await wait_for_run(client, team["editor"], run["id"], {"RUNNING"})
        while (
            await client.get(f"/api/v1/sync-runs/{run['id']}", headers=team["editor"].headers)
        ).json()["rows_written"] == 0:
            await asyncio.sleep(0.05)
        # What SIGTERM does (`jobs.process._drain`): readiness off, claiming off
        # (or this worker would claim the run again as soon as it is handed back).
        first.shutting_down.set()
        stopping.stop()
        await asyncio.sleep(1.5)  # released within a tick, not after the grace period
        assert first.metrics.sync_runs_followed._value.get() == 0
        assert await job_status(first, run["job_id"]) == "queued"  # back in the queue
    async with job_resources(settings, **FAST_SYNC) as second, running_worker(second, SYNC_RUN):
        done = await wait_for_run(client, team["editor"], run["id"], {"FINISHED", "FAILED"})
    assert done["status"] == "FINISHED" and done["rows_written"] == 40_000, done
    assert await digest(sink.dsn, target) == await digest(source.dsn, view)
