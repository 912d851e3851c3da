"""The no-op entrypoint `lowcode worker` runs in the jobs bench
(WORKER_IMPORTS=scripts.benchmarks.jobs_noop:ENTRYPOINTS)."""

from __future__ import annotations

from pydantic import BaseModel

from lowcode.jobs import Entrypoint, JobContext


class Noop(BaseModel):
    n: int


async def noop(ctx: JobContext, payload: Noop) -> None:
    return None


NOOP = Entrypoint("bench.noop", Noop, noop)
# Enqueued only, never run: the enqueue-rate measurement.
PARKED = Entrypoint("bench.parked", Noop, noop)
ENTRYPOINTS = (NOOP,)
