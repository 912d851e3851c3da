"""The data-sync contract between our grpclib client and the reference peer
(grpcio, its own process): idempotent submit, refusals as gRPC statuses,
events resumed by sequence, the truth for a client that reconnects, cancel
within a second that leaves the sink as it was, a restarted peer that lost
its jobs, and a million rows copied in bounded memory."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.trace import NoOpTracer

from lowcode.platform.grpc import GrpcTarget, TargetPolicy
from lowcode.platform.metrics import Metrics
from lowcode.sync.client import JobLost, JobRefused, SyncClient
from lowcode.sync.models import JobState
from lowcode_gen.proto.google.protobuf import Struct
from lowcode_gen.proto.seatunnel.v1 import Env, JobConfig, JobMode, Plugin
from tests.api.sources import BIG_ROWS, Source
from tests.api.sync.support import Sink, digest, slow_view
from tests.peers import PeerProcess


def jdbc(dsn_source: Source, database: str) -> dict[str, Any]:
    return {
        "url": f"jdbc:postgresql://{dsn_source.host}:{dsn_source.port}/{database}?sslmode=disable",
        "driver": "org.postgresql.Driver",
        "username": dsn_source.username,
        "password": "not-needed-with-trust",
    }


def config(
    src_db: Source,
    sink: Sink,
    /,
    *,
    table: str,
    sink_table: str,
    mode: str = "append",
    keys: list[str] | None = None,
    **overrides: Any,
) -> JobConfig:
    src = {**jdbc(src_db, src_db.database), "table_path": f"public.{table}"}
    dst = {
        **jdbc(src_db, sink.database),
        "generate_sink_sql": True,
        "database": sink.database,
        "table": f"public.{sink_table}",
        "data_save_mode": "DROP_DATA" if mode == "overwrite" else "APPEND_DATA",
    }
    if mode == "upsert":
        dst |= {"primary_keys": keys or ["id"], "enable_upsert": True}
    source_plugin = Plugin(plugin_name="Jdbc", plugin_output="s", options=Struct.from_dict(src))
    sink_plugin = Plugin(plugin_name="Jdbc", plugin_input=["s"], options=Struct.from_dict(dst))
    return JobConfig(
        env=overrides.get("env", Env(job_mode=JobMode.BATCH)),
        source=overrides.get("source", [source_plugin]),
        transform=overrides.get("transform", []),
        sink=overrides.get("sink", [sink_plugin]),
    )


@pytest.fixture
async def client(sync_peer) -> AsyncIterator[SyncClient]:
    target = GrpcTarget(
        "seatunnel",
        "the data-sync service",
        sync_peer.target,
        TargetPolicy(),
        Metrics(),
        NoOpTracer(),
    )
    try:
        yield SyncClient(target)
    finally:
        await target.close()


async def follow(client: SyncClient, job_id: str, after: int = 0) -> list[JobState]:
    return [state async for state in client.watch(job_id, after)]


async def test_a_job_runs_once_per_id_and_its_events_resume_by_sequence(client, source, sink):
    job_id = uuid.uuid4().hex
    cfg = config(source, sink, table="orders", sink_table=f"o_{job_id[:8]}")
    first = await client.submit(job_id, "orders", cfg)
    assert not first.existed and first.state is not None and first.state.status == "CREATED"
    again = await client.submit(job_id, "orders", cfg)
    assert again.existed and again.state is None
    events = await follow(client, job_id)
    sequences = [e.sequence for e in events]
    assert sequences == sorted(set(sequences)) and sequences[0] >= 1
    assert events[-1].status == "FINISHED" and events[-1].rows_written == 4
    assert [e.status for e in events[:2]] == ["CREATED", "RUNNING"]
    # Asking again after a sequence replays only what came after it.
    later = await follow(client, job_id, after=sequences[1])
    assert [e.sequence for e in later] == sequences[2:]
    assert await follow(client, job_id, after=sequences[-1]) == []
    final = await client.get(job_id)
    assert (final.status, final.rows_read, final.rows_written) == ("FINISHED", 4, 4)
    assert await sink.fetch(f"SELECT count(*) AS n FROM o_{job_id[:8]}") == [(4,)]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"source": [Plugin(plugin_name="Kafka", options=Struct.from_dict({}))]}, "runs Jdbc only"),
        ({"transform": [Plugin(plugin_name="Sql")]}, "transform plugins (Sql)"),
        ({"env": Env(job_mode=JobMode.STREAMING)}, "BATCH jobs only"),
        (
            {"source": [Plugin(plugin_name="Jdbc", options=Struct.from_dict(
                {"url": "jdbc:mysql://db/x", "username": "u", "query": "SELECT 1"}))]},
            "jdbc:postgresql:// URLs",
        ),
        (
            {"source": [Plugin(plugin_name="Jdbc", options=Struct.from_dict(
                {"username": "u", "query": "SELECT 1"}))]},
            "option url is required",
        ),
        (
            {"sink": [Plugin(plugin_name="Jdbc", options=Struct.from_dict(
                {"url": "jdbc:postgresql://h/db", "username": "u", "generate_sink_sql": True,
                 "database": "db", "table": "t", "data_save_mode": "CUSTOM_PROCESSING"}))]},
            "CUSTOM_PROCESSING",
        ),
    ],
)  # fmt: skip
async def test_what_the_peer_cannot_run_is_refused_with_its_reason(
    client, source, sink, change, says
):
    cfg = config(source, sink, table="orders", sink_table="never", **change)
    with pytest.raises(JobRefused, match=says.replace("(", r"\(").replace(")", r"\)")):
        await client.submit(uuid.uuid4().hex, "refused", cfg)


async def test_a_client_that_reconnects_sees_the_truth_and_misses_nothing(client, source, sink):
    view = await slow_view(source, rows=20_000, seconds=1.5)
    job_id = uuid.uuid4().hex
    await client.submit(
        job_id, "slow", config(source, sink, table=view, sink_table=f"s_{job_id[:8]}")
    )
    seen: list[JobState] = []
    async for state in client.watch(job_id, 0):
        seen.append(state)
        if state.rows_read > 0:
            break  # the stream is dropped mid-job
    now = await client.get(job_id)
    assert now.status == "RUNNING" and now.rows_read >= seen[-1].rows_read
    rest = await follow(client, job_id, after=seen[-1].sequence)
    assert rest[0].sequence == seen[-1].sequence + 1
    assert rest[-1].status == "FINISHED" and rest[-1].rows_written == 20_000
    counts = [s.rows_read for s in seen + rest]
    assert counts == sorted(counts)


async def test_cancel_ends_the_job_within_a_second_and_the_sink_keeps_its_rows(
    client, source, sink
):
    view = await slow_view(source, rows=40_000, seconds=5)
    target = f"keep_{uuid.uuid4().hex[:8]}"
    await sink.prefill(target, 500, "old")
    before = await digest(sink.dsn, target)
    job_id = uuid.uuid4().hex
    await client.submit(
        job_id, "cancel me", config(source, sink, table=view, sink_table=target, mode="overwrite")
    )
    async for state in client.watch(job_id, 0):
        if state.rows_written > 1000:
            break
    asked = time.monotonic()
    canceling = await client.cancel(job_id)
    assert canceling.status in ("CANCELING", "CANCELED")
    while (await client.get(job_id)).status != "CANCELED":
        assert time.monotonic() - asked < 1.0, "not canceled within a second"
        await asyncio.sleep(0.02)
    assert await digest(sink.dsn, target) == before
    assert (await client.cancel(job_id)).status == "CANCELED"  # again: nothing changes


async def test_a_restarted_peer_has_lost_its_jobs_and_says_so(work_dir, source, sink):
    peer = PeerProcess(work_dir, "seatunnel-restart", peer="seatunnel")
    peer.start()
    target = GrpcTarget(
        "seatunnel", "the data-sync service", peer.target, TargetPolicy(breaker_reset_s=0.5),
        Metrics(), NoOpTracer(),
    )  # fmt: skip
    client = SyncClient(target)
    try:
        job_id = uuid.uuid4().hex
        await client.submit(
            job_id, "x", config(source, sink, table="orders", sink_table=f"r_{job_id[:8]}")
        )
        events = await follow(client, job_id)
        peer.kill()
        peer.start()
        with pytest.raises(JobLost, match="no job"):
            await client.get(job_id)
        with pytest.raises(JobLost, match="no job"):
            await follow(client, job_id, after=events[-1].sequence)
    finally:
        peer.kill()  # a graceful stop would wait out the grace for our open channel
        await target.close()


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_a_million_rows_pass_through_in_bounded_memory(work_dir, source, sink):
    peer = PeerProcess(work_dir, "seatunnel-memory", peer="seatunnel")
    peer.start()
    target = GrpcTarget(
        "seatunnel", "the data-sync service", peer.target, TargetPolicy(), Metrics(), NoOpTracer()
    )
    try:
        assert peer.proc is not None
        before = _peak_rss_kib(peer.proc.pid)
        client = SyncClient(target)
        job_id = uuid.uuid4().hex
        await client.submit(
            job_id, "big", config(source, sink, table="big", sink_table=f"b_{job_id[:8]}")
        )
        events = await follow(client, job_id)
        assert events[-1].status == "FINISHED" and events[-1].rows_written == BIG_ROWS
        grown_mib = (_peak_rss_kib(peer.proc.pid) - before) / 1024
        # The table is ~40 MB as text; held whole, the peak would grow by more.
        assert grown_mib < 32, f"peak RSS grew {grown_mib:.1f} MiB"
    finally:
        peer.kill()  # a graceful stop would wait out the grace for our open channel
        await target.close()
