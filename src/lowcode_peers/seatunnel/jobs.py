"""The peer's jobs: their state, their event log and the task running each.

State lives in this process only (a restarted peer knows no jobs, as a
SeaTunnel cluster that lost its state would answer UNKNOWABLE). While it
lives, every client sees the same truth: GetJob reads it, WatchJob replays the
events after the sequence the client last saw, then follows new ones.

Events: one per status change, and while RUNNING one every EVENT_EVERY_S when
the counters moved, at least every HEARTBEAT_S when they did not (so a
watcher can tell a quiet job from a dead stream). Finished jobs are kept for
KEEP_FINISHED_S (at most MAX_JOBS jobs in all).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from lowcode_peers.seatunnel.copy import CopyFailed, CopyRun, Progress
from lowcode_peers.seatunnel.plan import Plan
from lowcode_peers_gen.seatunnel.v1 import job_pb2 as pb

log = logging.getLogger("lowcode_peers.seatunnel")

EVENT_EVERY_S = 0.25
HEARTBEAT_S = 2.0
RETAINED_EVENTS = 256
KEEP_FINISHED_S = 3600.0
MAX_JOBS = 10_000
MAX_ERROR_CHARS = 4000

END_STATES = frozenset(
    {
        pb.JOB_STATUS_FAILED,
        pb.JOB_STATUS_SAVEPOINT_DONE,
        pb.JOB_STATUS_CANCELED,
        pb.JOB_STATUS_FINISHED,
        pb.JOB_STATUS_UNKNOWABLE,
    }
)


def _timestamp(at: datetime | None) -> Timestamp | None:
    if at is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


class PeerJob:
    def __init__(self, job_id: str, job_name: str, plan: Plan) -> None:
        self.job_id = job_id
        self.job_name = job_name
        self.plan = plan
        self.status: pb.JobStatus = pb.JOB_STATUS_CREATED
        self.create_time = datetime.now(UTC)
        self.finished_time: datetime | None = None
        self.finished_at = 0.0  # monotonic, for retention
        self.error_msg = ""
        self.progress = Progress()
        self.sequence = 0
        self.events: deque[pb.JobEvent] = deque(maxlen=RETAINED_EVENTS)
        self._changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.copy: CopyRun | None = None

    @property
    def ended(self) -> bool:
        return self.status in END_STATES

    def metrics(self) -> pb.JobMetrics:
        p = self.progress
        seconds = p.elapsed()
        return pb.JobMetrics(
            source_received_count=p.source_rows,
            source_received_bytes=p.source_bytes,
            source_received_qps=round(p.source_rows / seconds, 3),
            source_received_bytes_per_seconds=round(p.source_bytes / seconds, 3),
            sink_write_count=p.sink_rows,
            sink_write_bytes=p.sink_bytes,
            sink_write_qps=round(p.sink_rows / seconds, 3),
            sink_write_bytes_per_seconds=round(p.sink_bytes / seconds, 3),
            sink_committed_count=p.committed_rows,
            sink_committed_bytes=p.committed_bytes,
            sink_committed_qps=round(p.committed_rows / seconds, 3),
            sink_committed_bytes_per_seconds=round(p.committed_bytes / seconds, 3),
            intermediate_queue_size=p.queued,
            table_source_received_count={self.plan.source.path: p.source_rows},
            table_sink_write_count={self.plan.sink.path: p.sink_rows},
        )

    def snapshot(self) -> pb.Job:
        return pb.Job(
            job_id=self.job_id,
            job_name=self.job_name,
            job_status=self.status,
            create_time=_timestamp(self.create_time),
            finished_time=_timestamp(self.finished_time),
            error_msg=self.error_msg,
            metrics=self.metrics(),
        )

    def publish(self) -> None:
        """Record an event with the current state and wake every watcher."""
        self.sequence += 1
        self.events.append(pb.JobEvent(sequence=self.sequence, job=self.snapshot()))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def move(self, status: pb.JobStatus, error: str = "") -> None:
        self.status = status
        if error:
            self.error_msg = error[:MAX_ERROR_CHARS]
        if status in END_STATES:
            self.finished_time = datetime.now(UTC)
            self.finished_at = time.monotonic()
        self.publish()

    async def follow(self, after_sequence: int) -> AsyncIterator[pb.JobEvent]:
        """Events after `after_sequence`, then new ones until the job has ended."""
        seen = after_sequence
        while True:
            changed = self._changed
            for event in list(self.events):
                if event.sequence > seen:
                    seen = event.sequence
                    yield event
            if self.ended and seen >= self.sequence:
                return
            await changed.wait()


class Jobs:
    """Every job this peer knows, by id."""

    def __init__(self) -> None:
        self._jobs: dict[str, PeerJob] = {}

    def get(self, job_id: str) -> PeerJob | None:
        return self._jobs.get(job_id)

    def start(self, job_id: str, job_name: str, plan: Plan) -> PeerJob:
        """A new job, already running (the caller checked the id is new)."""
        self._prune()
        job = PeerJob(job_id, job_name, plan)
        self._jobs[job_id] = job
        job.publish()  # CREATED
        job.task = asyncio.create_task(self._run(job), name=f"seatunnel-job-{job_id}")
        return job

    def cancel(self, job: PeerJob) -> None:
        """CANCELING now; the copy's connections are closed at once, and the
        task marks the job CANCELED as it unwinds (well within a second)."""
        if job.ended or job.status == pb.JOB_STATUS_CANCELING:
            return
        job.move(pb.JOB_STATUS_CANCELING)
        if job.copy is not None and not job.progress.committed:
            job.copy.abort()
        if job.task is not None:
            job.task.cancel()

    async def close(self) -> None:
        """Cancel every running job (the peer is stopping)."""
        running = [j for j in self._jobs.values() if not j.ended]
        for job in running:
            self.cancel(job)
        tasks = [j.task for j in running if j.task is not None]
        # Shutting down: jobs that do not stop within 5 s are left to the process exit.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)

    def _prune(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self._jobs.items()):
            if job.ended and now - job.finished_at > KEEP_FINISHED_S:
                del self._jobs[job_id]
        if len(self._jobs) >= MAX_JOBS:
            finished = sorted(
                (j for j in self._jobs.values() if j.ended), key=lambda j: j.finished_at
            )
            for job in finished[: len(self._jobs) - MAX_JOBS + 1]:
                del self._jobs[job.job_id]

    async def _run(self, job: PeerJob) -> None:
        job.copy = CopyRun(job.plan, job.progress)
        ticker = asyncio.create_task(self._tick(job))
        try:
            if job.status == pb.JOB_STATUS_CREATED:
                job.progress.started = time.monotonic()
                job.move(pb.JOB_STATUS_RUNNING)
            await job.copy.run()
        except (asyncio.CancelledError, Exception) as e:
            self._ended_early(job, e)
        else:
            job.move(pb.JOB_STATUS_FINISHED)
            log.info("job finished", extra={"job_id": job.job_id, "rows": job.progress.sink_rows})
        finally:
            ticker.cancel()

    @staticmethod
    def _ended_early(job: PeerJob, e: BaseException) -> None:
        """The end state of a copy that raised: a cancel asked for shows up
        as a failure of the closed connections or as CancelledError."""
        if job.progress.committed:  # a cancel that came after the sink's commit
            job.move(pb.JOB_STATUS_FINISHED)
        elif job.status == pb.JOB_STATUS_CANCELING or isinstance(e, asyncio.CancelledError):
            job.move(pb.JOB_STATUS_CANCELED)
            log.info("job canceled", extra={"job_id": job.job_id})
        elif isinstance(e, CopyFailed):
            job.move(pb.JOB_STATUS_FAILED, str(e))
            log.info("job failed", extra={"job_id": job.job_id, "error": str(e)})
        else:  # a bug here must still end the job, never leave it RUNNING
            log.error("job crashed", exc_info=e, extra={"job_id": job.job_id})
            job.move(
                pb.JOB_STATUS_FAILED, f"internal error in the sync service: {type(e).__name__}"
            )

    @staticmethod
    async def _tick(job: PeerJob) -> None:
        """Progress events while the job runs."""
        last_key = job.progress.key()
        last_at = time.monotonic()
        while not job.ended:
            await asyncio.sleep(EVENT_EVERY_S)
            key = job.progress.key()
            now = time.monotonic()
            if job.ended:
                return
            if key != last_key or now - last_at >= HEARTBEAT_S:
                job.publish()
                last_key, last_at = key, now
