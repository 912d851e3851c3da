"""Cron: expressions, settings, the once-per-tick guard, and two real
`lowcode worker` processes sharing one schedule."""

import asyncio
import itertools
import signal
import subprocess
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from pgqueuer.models import Schedule

from lowcode.jobs import CronTick, Entrypoint
from lowcode.jobs.catalog import builtin_entrypoints
from lowcode.jobs.cron import (
    CronSchedule,
    fire,
    fired_tick,
    pgqueuer_expression,
    schedules_from_settings,
)
from tests.jobs_support import create_test_tables, unique, worker_env
from tests.processes import LOWCODE


def test_standard_five_field_expressions_pass_through():
    assert pgqueuer_expression("*/15 3 * * 1-5") == "*/15 3 * * 1-5"


def test_a_sixth_field_is_seconds_first_and_moves_last_for_pgqueuer():
    assert pgqueuer_expression("*/2 * * * * *") == "* * * * * */2"
    assert pgqueuer_expression("30 0 12 * * *") == "0 12 * * * 30"


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "a b c d e", "* * * * * * * *"])
def test_malformed_expressions_are_refused(bad):
    with pytest.raises(ValueError, match="cron expression"):
        pgqueuer_expression(bad)


def test_the_default_settings_schedule_the_built_in_maintenance(settings):
    known = {ep.name: ep for ep in builtin_entrypoints()}
    schedules = schedules_from_settings(settings, known, known)
    assert {s.name for s in schedules} == {
        "identity.cleanup_sessions",
        "pages.compact_ops",
        "jobs.prune_history",
        "sync.schedule",
        "sync.reap_runs",
    }


def test_a_schedule_for_an_unknown_entrypoint_stops_the_worker_at_startup(settings):
    bad = settings.model_copy(update={"cron_schedules": {"no.such.job": "* * * * *"}})
    known = {ep.name: ep for ep in builtin_entrypoints()}
    with pytest.raises(ValueError, match="unknown entrypoint"):
        schedules_from_settings(bad, known, known)


def test_an_empty_expression_disables_a_schedule(settings):
    off = settings.model_copy(update={"cron_schedules": {"pages.compact_ops": ""}})
    known = {ep.name: ep for ep in builtin_entrypoints()}
    assert schedules_from_settings(off, known, known) == []


def test_the_fired_tick_is_the_one_before_the_next_run_pgqueuer_set():
    next_run = datetime(2026, 11, 21, 10, 0, 6, tzinfo=UTC)
    assert fired_tick("* * * * * */2", next_run) == next_run - timedelta(seconds=2)
    assert fired_tick("*/30 * * * *", datetime(2026, 11, 21, 10, 30, tzinfo=UTC)) == datetime(
        2026, 11, 21, 10, 0, tzinfo=UTC
    )


def _row(schedule: CronSchedule, next_run: datetime) -> Schedule:
    now = datetime.now(UTC)
    return Schedule(
        id=1,
        expression=schedule.expression,
        heartbeat=now,
        created=now,
        updated=now,
        next_run=next_run,
        status="picked",
        entrypoint=schedule.name,
    )


async def _noop(ctx, tick: CronTick) -> None:
    return None


async def test_a_tick_fired_twice_enqueues_one_job(res):
    schedule = CronSchedule(Entrypoint(unique("tick"), CronTick, _noop), "* * * * * */2")
    next_run = datetime(2026, 11, 21, 10, 0, 6, tzinfo=UTC)
    first = await fire(res, schedule, _row(schedule, next_run))
    second = await fire(res, schedule, _row(schedule, next_run))
    assert first is not None and second is None
    async with res.pool.acquire() as conn:
        count = await conn.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = $1", schedule.name
        )
        payload = await conn.fetchval("SELECT payload FROM pgqueuer WHERE id = $1", first)
    assert count == 1
    assert CronTick.model_validate_json(payload).tick == next_run - timedelta(seconds=2)


async def test_a_tick_is_skipped_while_the_previous_ticks_job_is_still_pending(res, logs):
    schedule = CronSchedule(Entrypoint(unique("tick"), CronTick, _noop), "* * * * * */2")
    base = datetime(2026, 11, 21, 10, 0, 6, tzinfo=UTC)
    assert await fire(res, schedule, _row(schedule, base)) is not None
    assert await fire(res, schedule, _row(schedule, base + timedelta(seconds=2))) is None
    assert any("still pending" in line["message"] for line in logs.lines("lowcode.jobs.cron"))


async def _ready(base: str, timeout: float = 30) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout / 0.1)):
            try:
                if (await client.get(f"{base}/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base} never became ready")


async def test_two_worker_processes_run_each_tick_of_one_schedule_exactly_once(
    database_url, redis_url, tmp_path
):
    await create_test_tables(database_url)
    conn = await asyncpg.connect(database_url)
    await conn.execute("DELETE FROM job_test_ticks")
    schedule = '{"tests.tick_probe": "*/2 * * * * *"}'
    procs = []
    try:
        for i in range(2):
            env = worker_env(
                database_url,
                redis_url,
                WORKER_ENTRYPOINTS="tests.tick_probe",
                CRON_SCHEDULES=schedule,
            )
            log = (tmp_path / f"worker{i}.log").open("w")
            proc = subprocess.Popen(
                [LOWCODE, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            procs.append((proc, f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}"))
        for _, base in procs:
            await _ready(base)
        await asyncio.sleep(10)
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in procs:
            assert await asyncio.to_thread(proc.wait, 30) == 0
        rows = await conn.fetch("SELECT tick, pid FROM job_test_ticks ORDER BY tick")
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
        await conn.close()
    ticks = [r["tick"] for r in rows]
    assert len(ticks) >= 4, ticks
    assert len(set(ticks)) == len(ticks), "a tick ran twice"
    assert all(t.second % 2 == 0 and t.microsecond == 0 for t in ticks), ticks
    # A tick may be skipped on purpose: when the previous tick's job is still
    # pending (dedupe) or when the scheduler wakes more than one period late on
    # a loaded machine. What must never happen is a second run of one tick or
    # a schedule that mostly stops firing.
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ticks)]
    assert all(g % 2.0 == 0 for g in gaps), ticks
    expected = int((ticks[-1] - ticks[0]).total_seconds() // 2) + 1
    assert expected - len(ticks) <= expected // 3, f"too many ticks missed: {ticks}"
