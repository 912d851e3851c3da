"""The data-sync service's client: the only importer of its generated stubs.

Calls go through the `seatunnel` `GrpcTarget` (deadline, retries, breaker,
trace context, metrics). SubmitJob is idempotent because we choose the
job id (ALREADY_EXISTS is success), so every call here may be retried.
Answers the peer gives on purpose come back as values or `JobRefused` /
`JobLost`; outages stay the target's AppErrors (PEER_UNAVAILABLE…). The
peer's replies are outside input: texts are cut, counters clamped.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from lowcode.platform.errors import AppError
from lowcode.platform.grpc import GrpcTarget
from lowcode.sync.models import JobState
from lowcode_gen.proto.seatunnel.v1 import (
    CancelJobRequest,
    CancelJobResponse,
    GetJobRequest,
    Job,
    JobConfig,
    JobEvent,
    JobServiceStub,
    SubmitJobRequest,
    SubmitJobResponse,
    WatchJobRequest,
)

SERVICE = "seatunnel.v1.JobService"
MAX_ERROR = 4000
MAX_COUNT = 2**62


class JobRefused(Exception):
    """The service will not run the job (INVALID_ARGUMENT, UNIMPLEMENTED…);
    the message is the service's own."""


class JobLost(Exception):
    """The service does not know the job (NOT_FOUND), or knows another
    incarnation of it (OUT_OF_RANGE on WatchJob): it restarted and lost it."""


class WatchUnsupported(Exception):
    """The service does not implement WatchJob (UNIMPLEMENTED): poll GetJob."""


@dataclass(frozen=True, slots=True)
class Submitted:
    state: JobState | None  # None when the job already existed
    existed: bool


def _count(value: int) -> int:
    return min(max(int(value), 0), MAX_COUNT)


def _rate(value: float) -> float:
    return value if math.isfinite(value) and value >= 0 else 0.0


def job_state(job: Job | None, sequence: int = 0) -> JobState:
    """A reply's job, checked: unknown statuses read as UNKNOWABLE."""
    if job is None:
        return JobState("UNKNOWABLE", "the sync service sent no job", 0, 0, 0, 0, 0.0, sequence)
    try:
        status = job.job_status.name or "UNKNOWABLE"
    except ValueError:
        status = "UNKNOWABLE"
    m = job.metrics
    if m is None:
        return JobState(status, job.error_msg[:MAX_ERROR], 0, 0, 0, 0, 0.0, sequence)
    return JobState(
        status if status != "UNSPECIFIED" else "UNKNOWABLE",
        job.error_msg[:MAX_ERROR],
        _count(m.source_received_count),
        _count(m.sink_write_count),
        _count(m.source_received_bytes),
        _count(m.sink_write_bytes),
        _rate(m.sink_write_qps),
        sequence,
    )


def _grpc_cause(e: AppError) -> GRPCError | None:
    cause = e.__cause__
    return cause if isinstance(cause, GRPCError) else None


def _message(e: GRPCError) -> str:
    return (e.message or e.status.name)[:MAX_ERROR]


class SyncClient:
    def __init__(self, target: GrpcTarget) -> None:
        self.target = target

    async def submit(self, job_id: str, job_name: str, config: JobConfig) -> Submitted:
        """Start the job, or find it started already (a retried submit)."""
        request = SubmitJobRequest(job_id=job_id, job_name=job_name, config=config)

        async def call(channel: Channel, deadline_s: float) -> SubmitJobResponse:
            return await JobServiceStub(channel).submit_job(request, timeout=deadline_s)

        try:
            reply = await self.target.call("SubmitJob", call, idempotent=True)
        except AppError as e:
            cause = _grpc_cause(e)
            if cause is not None and cause.status == Status.ALREADY_EXISTS:
                return Submitted(None, existed=True)
            if cause is not None and cause.status not in (Status.UNAVAILABLE, Status.INTERNAL):
                raise JobRefused(_message(cause)) from e
            raise
        return Submitted(job_state(reply.job), existed=False)

    async def get(self, job_id: str) -> JobState:
        """The job's state; JobLost when the service does not know it."""
        request = GetJobRequest(job_id=job_id)

        async def call(channel: Channel, deadline_s: float) -> Job:
            return await JobServiceStub(channel).get_job(request, timeout=deadline_s)

        try:
            return job_state(await self.target.call("GetJob", call, idempotent=True))
        except AppError as e:
            self._raise_lost(e)
            raise

    async def cancel(self, job_id: str, *, retry: bool = True) -> JobState:
        """Cancel (no savepoint); JobLost when the service does not know the job.
        `retry=False`: one attempt (a caller that must not wait on an outage)."""
        request = CancelJobRequest(job_id=job_id)

        async def call(channel: Channel, deadline_s: float) -> CancelJobResponse:
            return await JobServiceStub(channel).cancel_job(request, timeout=deadline_s)

        try:
            reply = await self.target.call("CancelJob", call, idempotent=retry)
        except AppError as e:
            self._raise_lost(e)
            raise
        return job_state(reply.job)

    async def watch(self, job_id: str, after_sequence: int) -> AsyncIterator[JobState]:
        """The job's events after `after_sequence` until it ends (or the stream
        breaks: an AppError, and the caller resumes from the last sequence)."""
        request = WatchJobRequest(job_id=job_id, after_sequence=after_sequence)

        def open_stream(channel: Channel, timeout_s: float | None) -> AsyncIterator[JobEvent]:
            return JobServiceStub(channel).watch_job(request, timeout=timeout_s)

        events = self.target.stream("WatchJob", open_stream)
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            try:
                async for event in events:
                    yield job_state(event.job, int(event.sequence))
            except AppError as e:
                self._raise_lost(e)
                cause = _grpc_cause(e)
                if cause is not None and cause.status == Status.UNIMPLEMENTED:
                    raise WatchUnsupported(_message(cause)) from e
                raise

    @staticmethod
    def _raise_lost(e: AppError) -> None:
        cause = _grpc_cause(e)
        if cause is not None and cause.status in (Status.NOT_FOUND, Status.OUT_OF_RANGE):
            raise JobLost(_message(cause)) from e

    async def health(self) -> str:
        return await self.target.health(SERVICE)
