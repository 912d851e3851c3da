"""`seatunnel.v1.JobService` on grpcio: the reference data-sync peer.

`PEERS_SYNC_WATCH=off` serves WatchJob as UNIMPLEMENTED, as a gateway
without push may (fault injection: clients must fall back to GetJob).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator

import grpc

from lowcode_peers.registry import PeerService
from lowcode_peers.seatunnel.jobs import Jobs, PeerJob
from lowcode_peers.seatunnel.plan import BadConfig, Unsupported, plan
from lowcode_peers_gen.seatunnel.v1 import job_pb2 as pb
from lowcode_peers_gen.seatunnel.v1 import job_pb2_grpc as pb_grpc

# SeaTunnel ids are decimal longs; callers of this contract may choose any
# short token (ours are run UUIDs).
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MAX_JOB_NAME = 200


async def _job(jobs: Jobs, job_id: str, context: grpc.aio.ServicerContext) -> PeerJob:
    job = jobs.get(job_id)
    if job is None:
        await context.abort(grpc.StatusCode.NOT_FOUND, f"no job {job_id[:128]!r}")
        raise AssertionError("abort raises")
    return job


class JobService(pb_grpc.JobServiceServicer):
    def __init__(self, *, watch: bool = True) -> None:
        self.jobs = Jobs()
        self.watch = watch

    async def SubmitJob(
        self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitJobResponse:
        if not _JOB_ID.match(request.job_id):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "job_id must be 1-128 characters [A-Za-z0-9._:-]"
            )
        existing = self.jobs.get(request.job_id)
        if existing is not None:
            # The same id is the same job: a retried submit starts nothing.
            name = pb.JobStatus.Name(existing.status).removeprefix("JOB_STATUS_")
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS, f"job {request.job_id} exists ({name})"
            )
        try:
            job_plan = plan(request.config)
        except Unsupported as e:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, str(e))
            raise
        except BadConfig as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            raise
        job = self.jobs.start(request.job_id, request.job_name[:MAX_JOB_NAME], job_plan)
        return pb.SubmitJobResponse(job=job.snapshot())

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        return (await _job(self.jobs, request.job_id, context)).snapshot()

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelJobResponse:
        if request.stop_with_savepoint:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED, "the reference peer has no savepoints"
            )
        job = await _job(self.jobs, request.job_id, context)
        self.jobs.cancel(job)
        return pb.CancelJobResponse(job=job.snapshot())

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.JobEvent]:
        if not self.watch:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "WatchJob is off (PEERS_SYNC_WATCH)")
        job = await _job(self.jobs, request.job_id, context)
        if request.after_sequence > job.sequence:
            # The client saw events this peer never sent: it knew another
            # incarnation of the job (this peer restarted and lost it).
            await context.abort(
                grpc.StatusCode.OUT_OF_RANGE,
                f"after_sequence {request.after_sequence} is past job {job.job_id}'s last event "
                f"({job.sequence})",
            )
        async for event in job.follow(request.after_sequence):
            yield event


def _register(server: grpc.aio.Server) -> None:
    watch = os.environ.get("PEERS_SYNC_WATCH", "on").lower() not in ("off", "0", "false")
    pb_grpc.add_JobServiceServicer_to_server(JobService(watch=watch), server)


PEER = PeerService(
    name="seatunnel",
    target_env="SEATUNNEL_TARGET",
    default_port=50052,
    grpc_services=("seatunnel.v1.JobService",),
    register=_register,
)
