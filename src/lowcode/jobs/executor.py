"""How one job runs inside pgqueuer's dispatch: payload validation, timeout,
retries with jittered exponential backoff, metrics, and the causing request's
id bound for every log line.

pgqueuer's `_dispatch` wraps `execute` in the job's trace span (extracted
from the headers `enqueue` wrote) and its heartbeat, and turns what
`execute` raises into the job's fate: RetryRequested re-queues it with a
delay, any other exception holds it as `failed` (on_failure="hold").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pgqueuer import DatabaseRetryEntrypointExecutor, RetryRequested
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.models import Context, Job
from prometheus_client import Counter, Histogram

from lowcode.jobs.enqueue import REQUEST_ID_HEADER
from lowcode.jobs.registry import Entrypoint, JobContext, PermanentFailure
from lowcode.platform.request_context import bind_request_id
from lowcode.resources import Resources

log = logging.getLogger("lowcode.jobs")


class JobTimedOut(Exception):
    pass


def _request_id(job: Job) -> str | None:
    value = (job.headers or {}).get(REQUEST_ID_HEADER)
    return value if isinstance(value, str) else None


def jittered(delay: timedelta) -> timedelta:
    """Half the backoff fixed, half random ("equal jitter"): retries of jobs
    that failed together spread out, and none comes back sooner than half."""
    return delay / 2 + delay * (random.random() / 2)  # noqa: S311 (not security)


def _runner(
    res: Resources, ep: Entrypoint[Any], timeout_s: float
) -> Callable[[Job], Awaitable[None]]:
    async def run(job: Job) -> None:
        payload = ep.parse(job.payload)
        ctx = JobContext(res, job.id, ep.name, job.attempts + 1, _request_id(job))
        deadline = asyncio.timeout(timeout_s)
        try:
            async with deadline:
                await ep.handler(ctx, payload)
        except TimeoutError as e:
            if deadline.expired():
                raise JobTimedOut(f"{ep.name} did not finish within {timeout_s:g}s") from e
            raise

    return run


@dataclasses.dataclass(kw_only=True)
class JobExecutor(DatabaseRetryEntrypointExecutor):
    """pgqueuer's retrying executor with our policy around it."""

    entrypoint: Entrypoint[Any]
    res: Resources
    # This entrypoint's metric children, looked up once rather than per job.
    _started: Counter = dataclasses.field(init=False, repr=False)
    _succeeded: Counter = dataclasses.field(init=False, repr=False)
    _retried: Counter = dataclasses.field(init=False, repr=False)
    _failed: Counter = dataclasses.field(init=False, repr=False)
    _duration: Histogram = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        m, name = self.res.metrics, self.entrypoint.name
        self._started = m.jobs_started.labels(name)
        self._succeeded = m.jobs_succeeded.labels(name)
        self._retried = m.jobs_retried.labels(name)
        self._failed = m.jobs_failed.labels(name)
        self._duration = m.job_duration.labels(name)

    @classmethod
    def build(cls, res: Resources, ep: Entrypoint[Any]) -> JobExecutor:
        s = res.settings
        timeout_s = ep.timeout_s or s.job_timeout_s
        max_attempts = ep.max_attempts or s.job_max_attempts
        return cls(
            parameters=EntrypointExecutorParameters(
                func=_runner(res, ep, timeout_s),
                concurrency_limit=ep.concurrency_limit,
                on_failure="hold",
            ),
            # pgqueuer counts retries (the run that sees job.attempts >=
            # max_attempts is the last); ours counts runs.
            max_attempts=max_attempts - 1,
            initial_delay=timedelta(seconds=ep.retry_base_s or s.job_retry_base_s),
            max_delay=timedelta(seconds=ep.retry_max_s or s.job_retry_max_s),
            entrypoint=ep,
            res=res,
        )

    async def execute(self, job: Job, context: Context) -> None:
        name = self.entrypoint.name
        # Each job runs in a task of its own, so this binding lives exactly as
        # long as the job (pgqueuer's own failure log line included).
        bind_request_id(_request_id(job))
        self._started.inc()
        start = time.perf_counter()
        try:
            await super().execute(job, context)
        except RetryRequested as retry:
            cause = retry.__cause__
            if isinstance(cause, PermanentFailure):
                self._held(job, cause)
                raise cause from None
            self._retried.inc()
            delay = jittered(retry.delay)
            log.warning(
                "job failed; retrying",
                extra={
                    "entrypoint": name,
                    "job_id": job.id,
                    "attempt": job.attempts + 1,
                    "retry_in_s": round(delay.total_seconds(), 3),
                    "error": retry.reason,
                },
            )
            reason = f"{type(cause).__name__}: {cause}" if cause else retry.reason
            raise RetryRequested(delay=delay, reason=reason) from cause
        except Exception as e:
            self._held(job, e)
            raise
        else:
            self._succeeded.inc()
        finally:
            self._duration.observe(time.perf_counter() - start)

    def _held(self, job: Job, error: BaseException) -> None:
        self._failed.inc()
        log.error(
            "job failed for good; held",
            extra={
                "entrypoint": self.entrypoint.name,
                "job_id": job.id,
                "attempt": job.attempts + 1,
                "error": f"{type(error).__name__}: {error}",
            },
        )
