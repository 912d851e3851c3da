"""Admin use cases over the queue: list, show, retry a held job, cancel a
pending one, depth and outcomes per entrypoint.

Retry and cancel lock the job's row first: a worker's dequeue skips locked
rows, so the job cannot start between the status check and the change. The
change itself is pgqueuer's (requeue_jobs, mark_job_as_cancelled), run on our
transaction's connection.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pgqueuer import Queries
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import JobId

from lowcode.identity.models import Actor
from lowcode.jobs.enqueue import REQUEST_ID_HEADER
from lowcode.jobs.errors import JobNotCancelable, JobNotFound, JobNotRetryable
from lowcode.jobs.models import (
    API_STATUS,
    LISTABLE,
    EntrypointStats,
    Job,
    JobDetail,
    JobError,
    JobEvent,
    decode_payload,
)
from lowcode.platform.db import Connection, transaction
from lowcode.platform.pagination import PageOf, PageRequest, fetch_page
from lowcode.resources import Resources
from lowcode_gen.queries.jobs import GetJobRow, ListJobsRow

log = logging.getLogger("lowcode.jobs.admin")

HISTORY_LIMIT = 50


def _job(row: ListJobsRow | GetJobRow) -> Job:
    # pgqueuer's `attempts` counts retries; a running or held job is on one more run.
    runs = row.attempts + (1 if row.status in ("picked", "failed") else 0)
    return Job(
        row.id,
        row.entrypoint,
        API_STATUS[row.status],
        row.priority,
        runs,
        row.dedupe_key,
        row.created,
        row.updated,
        row.execute_after,
    )


async def list_jobs(
    res: Resources, *, status: str | None, entrypoint: str | None, page: PageRequest
) -> PageOf[Job]:
    """Jobs still in the queue (queued, running, failed), newest first."""
    statuses = [LISTABLE[status]] if status else list(LISTABLE.values())
    q = res.queries.jobs
    async with res.pool.acquire() as conn:
        return await fetch_page(
            page,
            q.list_jobs(
                conn,
                statuses=statuses,
                entrypoint=entrypoint,
                limit=page.limit,
                offset=page.offset,
            ),
            _job,
            lambda: q.count_jobs(conn, statuses=statuses, entrypoint=entrypoint),
        )


async def _detail(res: Resources, conn: Connection, job_id: int) -> JobDetail:
    q = res.queries.jobs
    history = [r async for r in q.job_history(conn, job_id=job_id, limit=HISTORY_LIMIT)]
    row = await q.get_job(conn, job_id=job_id)
    if row is None and not history:
        raise JobNotFound(f"no job {job_id}")
    recorded = [(r, JobError.from_record(r.traceback, r.created)) for r in history]
    errors = [e for _, e in recorded if e is not None]
    events = [
        JobEvent(API_STATUS[r.status], r.created, f"{e.type}: {e.message}" if e else None)
        for r, e in recorded
    ]
    if row is not None:
        headers: Any = row.headers or {}
        request_id = headers.get(REQUEST_ID_HEADER) if isinstance(headers, dict) else None
        return JobDetail(
            _job(row),
            decode_payload(row.payload),
            request_id,
            errors[0] if errors else None,
            events,
        )
    latest, first = history[0], history[-1]
    job = Job(
        job_id,
        latest.entrypoint,
        API_STATUS[latest.status],
        latest.priority,
        sum(1 for r in history if r.status == "picked"),
        None,
        first.created,
        latest.created,
        None,
    )
    return JobDetail(job, None, None, errors[0] if errors else None, events)


async def get_job(res: Resources, job_id: int) -> JobDetail:
    """One job with its payload, attempts, last error and recent transitions."""
    async with res.pool.acquire() as conn:
        return await _detail(res, conn, job_id)


async def _lock(res: Resources, conn: Connection, job_id: int) -> str:
    """The status of a job still in the queue, its row locked; a finished job
    is reported as such, an unknown one is JOB_NOT_FOUND."""
    row = await res.queries.jobs.lock_job(conn, job_id=job_id)
    if row is not None:
        return row.status
    finished = await _detail(res, conn, job_id)
    return finished.job.status


async def retry_job(res: Resources, actor: Actor, job_id: int) -> JobDetail:
    """Queue a held (failed) job again, now, with its attempts reset."""
    async with transaction(res.pool) as conn:
        status = await _lock(res, conn, job_id)
        if status != "failed":
            raise JobNotRetryable(
                f"job {job_id} is {API_STATUS.get(status, status)}; only a failed job"
                " can be retried"
            )
        await Queries(AsyncpgDriver(conn)).requeue_jobs([JobId(job_id)])
        detail = await _detail(res, conn, job_id)
    log.info("job re-queued by an admin", extra={"job_id": job_id, "actor": str(actor.user_id)})
    return detail


async def cancel_job(res: Resources, actor: Actor, job_id: int) -> JobDetail:
    """Remove a queued or held job; one already running cannot be canceled."""
    async with transaction(res.pool) as conn:
        status = await _lock(res, conn, job_id)
        if status not in ("queued", "failed"):
            raise JobNotCancelable(
                f"job {job_id} is {API_STATUS.get(status, status)}; only a queued or failed job"
                " can be canceled"
            )
        await Queries(AsyncpgDriver(conn)).mark_job_as_cancelled([JobId(job_id)])
        detail = await _detail(res, conn, job_id)
    log.info("job canceled by an admin", extra={"job_id": job_id, "actor": str(actor.user_id)})
    return detail


async def job_stats(res: Resources, window_s: int) -> tuple[datetime, list[EntrypointStats]]:
    """Per entrypoint: queue depth now, and outcomes over the last `window_s` seconds."""
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    q = res.queries.jobs
    by_name: dict[str, EntrypointStats] = {}
    async with res.pool.acquire() as conn:
        async for d in q.queue_depth(conn):
            by_name[d.entrypoint] = EntrypointStats(
                d.entrypoint, d.ready, d.scheduled, d.running, d.held
            )
        async for o in q.outcomes_since(conn, since=since):
            current = by_name.get(o.entrypoint, EntrypointStats(o.entrypoint))
            by_name[o.entrypoint] = replace(
                current,
                succeeded=o.succeeded,
                failed=o.failed,
                retried=o.retried,
                canceled=o.canceled,
            )
    return since, [by_name[name] for name in sorted(by_name)]
