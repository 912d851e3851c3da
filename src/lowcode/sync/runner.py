"""Following one sync run (the `sync.run` job, sync/jobs.py), from its queued
job to its end state.

    start_run ─► SubmitJob(job_id = run id) ─► WatchJob(after_sequence) ─► finish_run
                       │ ALREADY_EXISTS = ours        │ stream broke / silent
                       ▼                              ▼
                   mark_submitted              GetJob polling, then WatchJob again

The job's payload is the run id only: the config (with the datasources'
passwords) is built here, in memory, right before SubmitJob, never stored.

Taking over. A worker that died leaves its job `picked`; once its heartbeat
is stale another worker runs this handler again, which finds the run
RUNNING: submitted already (then it only follows, from the run's
`last_sequence`) or not (then it submits; a submit that had reached the
peer answers ALREADY_EXISTS and counts as done). A worker that is stopping
(SIGTERM) hands the run back to the queue within a second instead.

Never RUNNING forever. A peer that no longer knows a submitted job (it
restarted) fails the run with a message saying so; a peer unreachable for
SYNC_PEER_LOST_S fails it; SYNC_RUN_TIMEOUT_S after the start the job is
canceled and the run failed; the last attempt of this handler failing fails
it; and `sync.reap_runs` fails runs whose worker job is gone (held, canceled
by an admin).

Progress (counters, the peer's status, `last_sequence`) is written at most
every SYNC_PROGRESS_INTERVAL_S and pushed to the user on /ws/events; each of
those writes also reads whether a cancel was asked (CANCELING), and the
peer's CancelJob follows at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime

from lowcode.platform.db import Connection, transaction
from lowcode.platform.errors import AppError
from lowcode.resources import Resources
from lowcode.sync import events
from lowcode.sync.client import JobLost, JobRefused, SyncClient, WatchUnsupported
from lowcode.sync.config import job_config
from lowcode.sync.models import JobState, SyncJob
from lowcode_gen.queries.sync import SyncRunRow

log = logging.getLogger("lowcode.sync")

# Peer end states → our run statuses (SAVEPOINT_DONE, UNKNOWABLE: not ours to run).
END_STATUS = {"FINISHED": "FINISHED", "CANCELED": "CANCELED", "FAILED": "FAILED"}


class _RunGone(Exception):
    """The run's row was deleted (its sync job or workspace went away)."""


class WorkerStopping(Exception):
    """This worker is shutting down (SIGTERM): the job goes back to the queue
    (pgqueuer's retry, after the first backoff step) and another worker takes
    the run over from its last sequence, without waiting for a stale
    heartbeat. The peer's job runs on meanwhile."""


class Follower:
    def __init__(self, res: Resources, run_id: uuid.UUID) -> None:
        self.res = res
        self.run_id = run_id
        self.job_id = str(run_id)  # the peer's job id is the run id
        self.q = res.queries.sync
        self.client = SyncClient(res.peers.seatunnel)
        s = res.settings
        self.interval_s = s.sync_progress_interval_s
        self.tick_s = min(self.interval_s, 1.0)
        self.sequence = 0
        self.latest: JobState | None = None
        self.unwritten = False  # `latest` is newer than what the run row holds
        self.last_write = 0.0
        self.cancel_sent = False
        self.canceling = False
        self.unreachable_since: float | None = None
        self.deadline = float("inf")

    async def run(self) -> None:
        """Follow the run to its end state, or return when it ended already."""
        row = await self._start()
        if row is None:
            return
        self.sequence = row.last_sequence
        self.canceling = row.status == "CANCELING"
        started = row.started_at or datetime.now(UTC)
        elapsed = (datetime.now(UTC) - started).total_seconds()
        self.deadline = time.monotonic() + self.res.settings.sync_run_timeout_s - elapsed
        try:
            if row.submitted_at is None and not await self._submit(row):
                return
            await self._follow()
        except _RunGone:
            log.info("sync run deleted while running; job canceled", extra={"run_id": self.job_id})
            with contextlib.suppress(AppError, JobLost):
                await self.client.cancel(self.job_id)

    async def fail(self, error: str) -> None:
        """End the run FAILED (the handler's last attempt gave up)."""
        await self._finish("FAILED", None, error)

    # --- steps ----------------------------------------------------------------

    async def _start(self) -> SyncRunRow | None:
        async with transaction(self.res.pool) as conn:
            row = await self.q.start_run(conn, run_id=self.run_id)
            if row is None:
                row = await self.q.get_sync_run(conn, run_id=self.run_id)
        if row is None or row.status in ("FINISHED", "FAILED", "CANCELED"):
            return None
        if row.status == "CANCELING" and row.submitted_at is None:
            await self._finish("CANCELED", None, None)
            return None
        return row

    async def _submit(self, row: SyncRunRow) -> bool:
        """SubmitJob until the peer has the job; False when the run ended instead."""
        try:
            async with self.res.pool.acquire() as conn:
                job_row = await self.q.get_sync_job(conn, sync_job_id=row.sync_job_id)
                if job_row is None:
                    raise _RunGone
                job = SyncJob.from_row(job_row)
                config = await job_config(self.res, conn, job)
        except (LookupError, AppError) as e:
            detail = e.detail if isinstance(e, AppError) else str(e)
            await self._finish("FAILED", None, f"the run could not start: {detail}")
            return False
        while True:
            try:
                submitted = await self.client.submit(
                    self.job_id, f"lowcode sync {job.name}", config
                )
                break
            except JobRefused as e:
                await self._finish("FAILED", None, f"the data-sync service refused the job: {e}")
                return False
            except AppError as e:
                if await self._gave_up(e):
                    return False
                await asyncio.sleep(self.res.settings.sync_poll_s)
        del config  # the passwords go no further than the peer
        self.unreachable_since = None
        async with transaction(self.res.pool) as conn:
            await self.q.mark_submitted(conn, run_id=self.run_id)
        log.info(
            "sync run submitted",
            extra={
                "run_id": self.job_id,
                "sync_job_id": str(row.sync_job_id),
                "again": submitted.existed,
            },
        )
        return True

    async def _follow(self) -> None:
        """WatchJob, resumed by sequence; GetJob polling while it cannot be followed."""
        watching = True
        while True:
            if watching:
                try:
                    if await self._watch():
                        return
                except WatchUnsupported:
                    watching = False
                except JobLost as e:
                    await self._lost(e)
                    return
                except AppError as e:
                    if await self._gave_up(e):
                        return
            try:
                state = await self.client.get(self.job_id)
            except JobLost as e:
                await self._lost(e)
                return
            except AppError as e:
                if await self._gave_up(e):
                    return
            else:
                self.unreachable_since = None
                if await self._observe(state):
                    return
            if await self._tick():
                return
            await asyncio.sleep(self.res.settings.sync_poll_s)

    async def _watch(self) -> bool:
        """Follow one WatchJob stream; True when the run ended, False when the
        stream ended or went silent (the caller polls, then watches again)."""
        queue: asyncio.Queue[JobState | BaseException | None] = asyncio.Queue(maxsize=256)

        async def pump() -> None:
            try:
                async for state in self.client.watch(self.job_id, self.sequence):
                    await queue.put(state)
                await queue.put(None)
            except Exception as e:  # handed to the loop below, which decides
                await queue.put(e)

        task = asyncio.create_task(pump(), name=f"sync-watch-{self.job_id}")
        heard = ticked = time.monotonic()
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), self.tick_s)
                except TimeoutError:
                    ticked = time.monotonic()
                    if await self._tick():
                        return True
                    if ticked - heard > self.res.settings.sync_watch_idle_s:
                        log.warning("WatchJob silent; resuming", extra={"run_id": self.job_id})
                        return False
                    continue
                if item is None:
                    return False
                if isinstance(item, BaseException):
                    raise item
                heard = time.monotonic()
                self.unreachable_since = None
                if await self._observe(item):
                    return True
                # A stream busier than the tick must not starve it: the cancel
                # check and a stopping worker's hand-back wait for nothing else.
                if heard - ticked >= self.tick_s:
                    ticked = heard
                    if await self._tick():
                        return True
        finally:
            task.cancel()
            # The watch stream is abandoned: how it ended (cancelled, or the
            # peer's stream broke) no longer matters to the run.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _observe(self, state: JobState) -> bool:
        """Take in a state from the peer; True when it ended the run."""
        self.sequence = max(self.sequence, state.sequence)
        self.latest = state
        self.unwritten = True
        if state.ended:
            await self._end(state)
            return True
        return await self._write_progress(force=False)

    async def _tick(self) -> bool:
        """Every second or so: pending progress, the cancel check, the timeout,
        and whether this worker is stopping."""
        if self.res.shutting_down.is_set():
            await self._write_progress(force=False)
            raise WorkerStopping("the worker is stopping; another worker takes the run over")
        if time.monotonic() > self.deadline:
            with contextlib.suppress(AppError, JobLost):
                await self.client.cancel(self.job_id)
            timeout = self.res.settings.sync_run_timeout_s
            await self._finish(
                "FAILED", self.latest, f"the run did not finish within {timeout:g} s"
            )
            return True
        return await self._write_progress(force=True)

    async def _write_progress(self, *, force: bool) -> bool:
        """Record the latest state when the interval has passed (`force`: also
        read the run's status when there is nothing new). True: run ended."""
        now = time.monotonic()
        if now - self.last_write < self.interval_s:
            return False
        state = self.latest
        async with transaction(self.res.pool) as conn:
            if state is not None and self.unwritten:
                row = await self._record(conn, state)
                if row is None:
                    raise _RunGone
                status = row.status
                self.unwritten = False
            elif force:
                found = await self.q.run_status(conn, run_id=self.run_id)
                if found is None:
                    raise _RunGone
                status, row = found, None
            else:
                return False
        self.last_write = now
        if row is not None:
            await events.progressed(self.res, row)
        if status == "CANCELING" and not self.cancel_sent:
            return await self._send_cancel()
        return status in ("FINISHED", "FAILED", "CANCELED")

    async def _record(self, conn: Connection, state: JobState) -> SyncRunRow | None:
        return await self.q.record_progress(
            conn,
            run_id=self.run_id,
            last_sequence=self.sequence,
            peer_status=state.status,
            rows_read=state.rows_read,
            rows_written=state.rows_written,
            bytes_read=state.bytes_read,
            bytes_written=state.bytes_written,
            rows_per_second=state.rows_per_second,
        )

    async def _send_cancel(self) -> bool:
        self.canceling = True
        try:
            await self.client.cancel(self.job_id)
        except JobLost as e:
            await self._lost(e)
            return True
        except AppError as e:  # tried again on the next tick
            log.warning("CancelJob failed", extra={"run_id": self.job_id, "error": str(e)})
            return False
        self.cancel_sent = True
        log.info("sync run cancel sent", extra={"run_id": self.job_id})
        return False

    async def _gave_up(self, e: AppError) -> bool:
        """The peer did not answer: True (run FAILED) once that has lasted too long."""
        now = time.monotonic()
        if self.unreachable_since is None:
            self.unreachable_since = now
            log.warning(
                "data-sync service unreachable", extra={"run_id": self.job_id, "error": str(e)}
            )
        limit = self.res.settings.sync_peer_lost_s
        if now - self.unreachable_since < limit:
            return False
        await self._finish(
            "FAILED",
            self.latest,
            f"the data-sync service was unreachable for {limit:g} s ({e.detail or e})",
        )
        return True

    async def _lost(self, e: JobLost) -> None:
        if self.canceling:
            await self._finish("CANCELED", self.latest, None)
            return
        await self._finish(
            "FAILED",
            self.latest,
            f"the data-sync service no longer knows this run's job ({e}): it was restarted or "
            "dropped the job, and rolled back what the job had not committed; start a new run",
        )

    async def _end(self, state: JobState) -> None:
        status = END_STATUS.get(state.status, "FAILED")
        error: str | None = None
        if status == "FAILED":
            error = state.error or f"the data-sync service ended the job as {state.status}"
        await self._finish(status, state, error)

    async def _finish(self, status: str, state: JobState | None, error: str | None) -> None:
        async with transaction(self.res.pool) as conn:
            row = await self.q.finish_run(
                conn,
                run_id=self.run_id,
                status=status,
                peer_status=state.status if state else None,
                last_sequence=self.sequence,
                rows_read=state.rows_read if state else 0,
                rows_written=state.rows_written if state else 0,
                bytes_read=state.bytes_read if state else 0,
                bytes_written=state.bytes_written if state else 0,
                rows_per_second=state.rows_per_second if state else None,
                error=error[:4000] if error else None,
            )
        if row is None:
            return  # it had ended already (e.g. canceled while queued)
        log.info(
            "sync run ended",
            extra={
                "run_id": self.job_id,
                "status": status,
                "rows_written": row.rows_written,
                "error": error,
            },
        )
        await events.finished(self.res, row)
