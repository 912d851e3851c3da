"""Cron schedules from settings, on pgqueuer's SchedulerManager.

A schedule names an entrypoint whose payload is `CronTick`; each tick
enqueues one job of it, so cron work gets the same retries, timeout, metrics
and admin view as any job. pgqueuer hands a due schedule to one worker at a
time, but around second boundaries it can hand the same tick out twice;
`job_cron_ticks` makes the enqueue happen once per tick across all workers.
A tick whose previous job is still queued or running is skipped (dedupe key),
so slow work does not pile up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from croniter import croniter
from pgqueuer.models import Schedule

from lowcode.jobs.enqueue import enqueue
from lowcode.jobs.registry import CronTick, Entrypoint
from lowcode.platform.db import transaction
from lowcode.resources import Resources
from lowcode.settings import Settings

log = logging.getLogger("lowcode.jobs.cron")


def pgqueuer_expression(expression: str) -> str:
    """Standard cron (minute hour day month weekday), or six fields with
    seconds first as Quartz and Spring write them, in croniter's spelling,
    which pgqueuer uses: a sixth field there is seconds, last."""
    fields = expression.split()
    if len(fields) == 5:
        ordered = fields
    elif len(fields) == 6:
        ordered = [*fields[1:], fields[0]]
    else:
        raise ValueError(f"cron expression {expression!r} needs 5 fields, or 6 with seconds first")
    converted = " ".join(ordered)
    if not croniter.is_valid(converted):
        raise ValueError(f"invalid cron expression {expression!r}")
    return converted


@dataclass(frozen=True, slots=True)
class CronSchedule:
    entrypoint: Entrypoint[Any]
    # In pgqueuer's form (see pgqueuer_expression).
    expression: str

    @property
    def name(self) -> str:
        return self.entrypoint.name


def schedules_from_settings(
    settings: Settings,
    known: Mapping[str, Entrypoint[Any]],
    running: Mapping[str, Entrypoint[Any]],
) -> list[CronSchedule]:
    """CRON_SCHEDULES for the entrypoints this worker runs. A name nobody
    knows, a payload that is not a CronTick or a bad expression stops the
    worker at startup rather than never firing."""
    result: list[CronSchedule] = []
    for name, expression in settings.cron_schedules.items():
        if not expression.strip():
            continue
        if name not in known:
            raise ValueError(f"CRON_SCHEDULES names an unknown entrypoint {name!r}")
        ep = known[name]
        if not issubclass(ep.payload, CronTick):
            raise ValueError(f"CRON_SCHEDULES: {name} does not take a CronTick payload")
        converted = pgqueuer_expression(expression)
        if name in running:
            result.append(CronSchedule(ep, converted))
    return result


def fired_tick(expression: str, next_run: datetime) -> datetime:
    """The tick a schedule was handed out for. pgqueuer moves `next_run` to
    the following tick as it hands the schedule out, so the fired tick is the
    one before; reading it off the row, not the clock, lets every worker that
    fires it agree on it."""
    tick: datetime = croniter(expression, next_run).get_prev(datetime)
    return tick


async def fire(res: Resources, schedule: CronSchedule, row: Schedule) -> int | None:
    """Enqueue the job of one tick, unless another worker already did or the
    previous tick's job is still pending. Returns the job id."""
    tick = fired_tick(schedule.expression, row.next_run)
    q = res.queries.jobs
    async with transaction(res.pool) as conn:
        if not await q.claim_cron_tick(conn, schedule=schedule.name, tick=tick):
            log.debug("cron tick already fired", extra={"schedule": schedule.name})
            return None
        job_id = await enqueue(
            res,
            conn,
            schedule.entrypoint,
            CronTick(schedule=schedule.name, tick=tick),
            dedupe_key=f"cron:{schedule.name}",
            on_duplicate="skip",
        )
        if job_id is None:
            log.warning(
                "cron tick skipped: the previous tick's job is still pending",
                extra={"schedule": schedule.name, "tick": tick.isoformat()},
            )
        else:
            await q.set_cron_tick_job(conn, schedule=schedule.name, tick=tick, job_id=job_id)
    return job_id
