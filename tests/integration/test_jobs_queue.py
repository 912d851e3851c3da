"""The job queue against real Postgres: transactional enqueue, retries, held
failures, delays, priority, de-duplication, concurrency limits, timeouts and
the request's id and trace carried into the job. Workers run in-process."""

import asyncio
import itertools
import logging
import time
from datetime import timedelta

import asyncpg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pgqueuer import Queries
from pgqueuer.db import AsyncpgDriver

from lowcode.jobs import Entrypoint, PermanentFailure, enqueue, enqueue_many
from lowcode.jobs.errors import DuplicateJob, InvalidJobPayload
from lowcode.platform.db import transaction
from lowcode.platform.request_context import bind_request_id, reset_request_id
from tests.jobs_support import (
    Note,
    job_resources,
    job_status,
    running_worker,
    unique,
    wait_until,
)


class Recorder:
    """A handler that notes each run and fails its first `fail_times` runs."""

    def __init__(self, hold_s: float = 0.0) -> None:
        self.runs: list[tuple[str, int, float]] = []
        self.running = 0
        self.max_running = 0
        self.hold_s = hold_s

    async def __call__(self, ctx, note: Note) -> None:
        self.runs.append((note.key, ctx.attempt, time.monotonic()))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.hold_s:
                await asyncio.sleep(self.hold_s)
            if ctx.attempt <= note.fail_times:
                raise RuntimeError(f"boom {ctx.attempt}")
        finally:
            self.running -= 1


def entrypoint(recorder, name="probe", **policy):
    return Entrypoint(unique(name), Note, recorder, **policy)


async def test_a_job_enqueued_in_a_rolled_back_transaction_never_exists(res):
    ep = entrypoint(Recorder())

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with transaction(res.pool) as conn:
            job_id = await enqueue(res, conn, ep, Note(key="a"))
            assert job_id is not None
            raise Abort
    async with res.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pgqueuer WHERE id = $1", job_id) == 0
        assert (
            await conn.fetchval("SELECT count(*) FROM pgqueuer_log WHERE job_id = $1", job_id) == 0
        )


async def test_a_committed_job_runs_once_with_its_payload_and_is_counted(res):
    recorder = Recorder()
    ep = entrypoint(recorder)
    async with transaction(res.pool) as conn:
        job_id = await enqueue(res, conn, ep, {"key": "committed"})
    async with running_worker(res, ep):
        await wait_until(lambda: recorder.runs)
        await wait_until(lambda: _status_is(res, job_id, "successful"))
    assert [(k, a) for k, a, _ in recorder.runs] == [("committed", 1)]
    m = res.metrics
    assert m.jobs_enqueued.labels(ep.name)._value.get() == 1
    assert m.jobs_started.labels(ep.name)._value.get() == 1
    assert m.jobs_succeeded.labels(ep.name)._value.get() == 1
    assert f'lowcode_job_duration_seconds_count{{entrypoint="{ep.name}"}} 1.0' in (
        m.render().decode()
    )


async def _status_is(res, job_id, status):
    return await job_status(res, job_id) == status


async def test_a_payload_that_does_not_fit_the_model_is_refused_on_enqueue(res):
    ep = entrypoint(Recorder())
    async with transaction(res.pool) as conn:
        with pytest.raises(InvalidJobPayload, match="key"):
            await enqueue(res, conn, ep, {"fail_times": "not a number"})


async def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(res):
    recorder = Recorder()
    ep = entrypoint(recorder, max_attempts=5)
    async with transaction(res.pool) as conn:
        job_id = await enqueue(res, conn, ep, Note(key="flaky", fail_times=2))
    async with running_worker(res, ep):
        await wait_until(lambda: _status_is(res, job_id, "successful"))
    assert [a for _, a, _ in recorder.runs] == [1, 2, 3]
    gaps = [b[2] - a[2] for a, b in itertools.pairwise(recorder.runs)]
    # Backoff 0.05 s then 0.1 s, each at least halved by jitter.
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05
    assert res.metrics.jobs_retried.labels(ep.name)._value.get() == 2
    assert res.metrics.jobs_succeeded.labels(ep.name)._value.get() == 1


async def test_a_job_that_keeps_failing_is_held_as_failed_after_max_attempts(res):
    recorder = Recorder()
    ep = entrypoint(recorder, max_attempts=3)
    async with transaction(res.pool) as conn:
        job_id = await enqueue(res, conn, ep, Note(key="doomed", fail_times=99))
    async with running_worker(res, ep):
        await wait_until(lambda: _status_is(res, job_id, "failed"))
        await asyncio.sleep(0.5)  # held, so nothing runs it again
    assert [a for _, a, _ in recorder.runs] == [1, 2, 3]
    assert res.metrics.jobs_failed.labels(ep.name)._value.get() == 1
    async with res.pool.acquire() as conn:
        traceback = await conn.fetchval(
            "SELECT traceback->>'exception_message' FROM pgqueuer_log"
            " WHERE job_id = $1 AND status = 'failed'",
            job_id,
        )
    assert traceback == "boom 3"


async def test_a_stored_payload_that_no_longer_fits_is_held_at_once_not_retried(res):
    recorder = Recorder()
    ep = entrypoint(recorder, max_attempts=5)
    # As an older release would have stored it; pgqueuer on a plain connection
    # (ours encode JSON parameters themselves, see enqueue.py).
    conn = await asyncpg.connect(res.settings.database_url)
    try:
        (job_id,) = await Queries(AsyncpgDriver(conn)).enqueue(ep.name, b'{"kee": 1}')
    finally:
        await conn.close()
    async with running_worker(res, ep):
        await wait_until(lambda: _status_is(res, job_id, "failed"))
        await asyncio.sleep(0.3)
    assert recorder.runs == []
    async with res.pool.acquire() as conn:
        retries = await conn.fetchval(
            "SELECT count(*) FROM pgqueuer_log WHERE job_id = $1 AND status = 'picked'", job_id
        )
        kind = await conn.fetchval(
            "SELECT traceback->>'exception_type' FROM pgqueuer_log"
            " WHERE job_id = $1 AND status = 'failed'",
            job_id,
        )
    assert retries == 1 and kind == "InvalidPayload"


async def test_a_handler_raising_permanent_failure_is_held_without_retry(res):
    runs = []

    async def refuse(ctx, note: Note) -> None:
        runs.append(ctx.attempt)
        raise PermanentFailure("the account is gone")

    ep = Entrypoint(unique("refuse"), Note, refuse, max_attempts=5)
    async with transaction(res.pool) as conn:
        job_id = await enqueue(res, conn, ep, Note(key="x"))
    async with running_worker(res, ep):
        await wait_until(lambda: _status_is(res, job_id, "failed"))
    assert runs == [1]


async def test_a_delayed_job_does_not_run_before_its_time(res):
    recorder = Recorder()
    ep = entrypoint(recorder)
    async with running_worker(res, ep):
        async with transaction(res.pool) as conn:
            enqueued = time.monotonic()
            await enqueue(res, conn, ep, Note(key="later"), execute_after=timedelta(seconds=1.5))
        await asyncio.sleep(1.0)
        assert recorder.runs == []
        await wait_until(lambda: recorder.runs, timeout=10)
    assert recorder.runs[0][2] - enqueued >= 1.4


async def test_higher_priority_jobs_run_first(res):
    recorder = Recorder()
    # One at a time, so the order they start in is the order they ran in.
    ep = entrypoint(recorder, concurrency_limit=1)
    async with transaction(res.pool) as conn:
        for key, priority in [("low", 0), ("high", 10), ("mid", 5), ("low2", 0), ("top", 99)]:
            await enqueue(res, conn, ep, Note(key=key), priority=priority)
    async with running_worker(res, ep):
        await wait_until(lambda: len(recorder.runs) == 5)
    assert [k for k, _, _ in recorder.runs] == ["top", "high", "mid", "low", "low2"]


async def test_a_dedupe_key_refuses_a_second_pending_job_until_the_first_finished(res):
    recorder = Recorder()
    ep = entrypoint(recorder)
    async with transaction(res.pool) as conn:
        first = await enqueue(res, conn, ep, Note(key="1"), dedupe_key=f"{ep.name}:sync")
    with pytest.raises(DuplicateJob):
        async with transaction(res.pool) as conn:
            await enqueue(res, conn, ep, Note(key="2"), dedupe_key=f"{ep.name}:sync")
    async with transaction(res.pool) as conn:
        skipped = await enqueue(
            res, conn, ep, Note(key="3"), dedupe_key=f"{ep.name}:sync", on_duplicate="skip"
        )
        # The transaction goes on after a skipped duplicate.
        assert await conn.fetchval("SELECT 1") == 1
    assert first is not None and skipped is None
    async with running_worker(res, ep):
        await wait_until(lambda: _status_is(res, first, "successful"))
    async with transaction(res.pool) as conn:
        again = await enqueue(res, conn, ep, Note(key="4"), dedupe_key=f"{ep.name}:sync")
    assert again is not None
    assert [k for k, _, _ in recorder.runs] == ["1"]


async def test_the_concurrency_limit_holds_across_two_workers(res, settings):
    recorder = Recorder(hold_s=0.2)
    ep = entrypoint(recorder, concurrency_limit=2)
    async with transaction(res.pool) as conn:
        await enqueue_many(res, conn, ep, [Note(key=str(i)) for i in range(10)])
    async with (
        job_resources(settings) as other,
        running_worker(res, ep),
        running_worker(other, ep),
    ):
        await wait_until(lambda: len(recorder.runs) == 10, timeout=20)
    assert recorder.max_running == 2


async def test_a_job_running_past_its_timeout_is_stopped_and_held(res):
    recorder = Recorder(hold_s=30)
    ep = entrypoint(recorder, timeout_s=0.3, max_attempts=1)
    async with transaction(res.pool) as conn:
        job_id = await enqueue(res, conn, ep, Note(key="slow"))
    started = time.monotonic()
    async with running_worker(res, ep):
        await wait_until(lambda: _status_is(res, job_id, "failed"))
    assert time.monotonic() - started < 5
    async with res.pool.acquire() as conn:
        error = await conn.fetchval(
            "SELECT traceback->>'exception_type' || ': ' || (traceback->>'exception_message')"
            " FROM pgqueuer_log WHERE job_id = $1 AND status = 'failed'",
            job_id,
        )
    assert error == f"JobTimedOut: {ep.name} did not finish within 0.3s"


async def test_a_job_carries_the_request_id_and_trace_of_what_enqueued_it(settings, logs):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    seen = {}

    async def handler(ctx, note: Note) -> None:
        seen["request_id"] = ctx.request_id
        logging.getLogger("tests.job").info("inside the job")

    ep = Entrypoint(unique("traced"), Note, handler)
    async with job_resources(settings, tracer=tracer) as res:
        token = bind_request_id("req-42")
        try:
            with tracer.start_as_current_span("POST /api/v1/something") as request_span:
                async with transaction(res.pool) as conn:
                    await enqueue(res, conn, ep, Note(key="t"))
        finally:
            reset_request_id(token)
        async with running_worker(res, ep):
            await wait_until(lambda: "request_id" in seen)
            await wait_until(
                lambda: any(s.name == f"process {ep.name}" for s in exporter.get_finished_spans())
            )
    trace_id = request_span.get_span_context().trace_id
    process = next(s for s in exporter.get_finished_spans() if s.name == f"process {ep.name}")
    assert process.context.trace_id == trace_id
    assert seen["request_id"] == "req-42"
    line = next(x for x in logs.lines("tests.job") if x["message"] == "inside the job")
    assert line["request_id"] == "req-42"
    assert line["trace_id"] == format(trace_id, "032x")
