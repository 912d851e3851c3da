"""The `sync.run` entrypoint: its payload, its handler around `Follower`, and
the enqueue that goes with inserting a run."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid

from pydantic import BaseModel

from lowcode.jobs.enqueue import enqueue
from lowcode.jobs.registry import Entrypoint, JobContext
from lowcode.platform.db import Connection
from lowcode.resources import Resources
from lowcode.sync.runner import Follower, WorkerStopping
from lowcode_gen.queries.sync import SyncRunRow

log = logging.getLogger("lowcode.sync")

# Attempts of one run's job: a worker that stops hands the run back (one
# attempt each time), so this is higher than for other jobs.
MAX_ATTEMPTS = 10


class RunPayload(BaseModel):
    """A `sync.run` job's payload: the run to follow, nothing secret."""

    run_id: uuid.UUID


async def follow_run(ctx: JobContext, payload: RunPayload) -> None:
    """The `sync.run` handler (idempotent: a second run of it follows the same run)."""
    res = ctx.res
    follower = Follower(res, payload.run_id)
    res.metrics.sync_runs_followed.inc()
    try:
        await follower.run()
    except WorkerStopping:
        log.info("sync run handed back to the queue", extra={"run_id": str(payload.run_id)})
        raise
    except Exception as e:
        if ctx.attempt >= (SYNC_RUN.max_attempts or res.settings.job_max_attempts):
            # Marking the run failed is a courtesy (the reaper ends it otherwise);
            # the job's own error is what must propagate.
            with contextlib.suppress(Exception):
                await follower.fail(f"the worker could not follow the run: {type(e).__name__}: {e}")
        raise
    finally:
        res.metrics.sync_runs_followed.dec()


# The handler enforces SYNC_RUN_TIMEOUT_S itself (canceling the peer's job);
# the job's own timeout only backs that up.
SYNC_RUN = Entrypoint(
    "sync.run", RunPayload, follow_run, max_attempts=MAX_ATTEMPTS, timeout_s=7 * 24 * 3600.0
)


async def enqueue_run(res: Resources, conn: Connection, row: SyncRunRow) -> SyncRunRow:
    """Queue the run's `sync.run` job on `conn` (the transaction that inserted
    the run) and record its id on the run."""
    job_id = await enqueue(res, conn, SYNC_RUN, RunPayload(run_id=row.id))
    assert job_id is not None  # no dedupe key: never skipped
    await res.queries.sync.set_queue_job(conn, run_id=row.id, queue_job_id=job_id)
    return dataclasses.replace(row, queue_job_id=job_id)
