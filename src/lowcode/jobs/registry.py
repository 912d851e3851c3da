"""Entrypoints: a name, a pydantic payload model, a handler and its policy.

Each context that has background work declares its entrypoints as module
constants in its `jobs` module (`identity/jobs.py`, `pages/jobs.py`, …);
`jobs.catalog` collects them, plus any named by WORKER_IMPORTS. This module
imports none of them, so every context can import it. Nothing registers
itself at import time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from lowcode.resources import Resources

P = TypeVar("P", bound=BaseModel)


class PermanentFailure(Exception):
    """Raise from a handler when running the job again cannot help: the job is
    held as failed at once instead of being retried."""


class InvalidPayload(PermanentFailure):
    """The stored payload does not fit the entrypoint's model (written by an
    older release, or by hand): held, never retried."""


class CronTick(BaseModel):
    """The payload of every job a cron schedule enqueues."""

    schedule: str
    tick: datetime


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler gets besides its payload."""

    res: Resources
    job_id: int
    entrypoint: str
    # 1 on the first run; a retried job sees 2, 3, …
    attempt: int
    request_id: str | None


@dataclass(frozen=True)
class Entrypoint(Generic[P]):
    """A kind of job. `None` policy values take the JOB_* settings.

    Handlers must be idempotent: a worker that dies mid-job leaves the job to
    be run again by another one once its heartbeat goes stale.
    """

    name: str
    payload: type[P]
    handler: Callable[[JobContext, P], Awaitable[None]]
    max_attempts: int | None = None
    timeout_s: float | None = None
    # Jobs of this entrypoint running at once across all workers; 0: no limit.
    concurrency_limit: int = 0
    # Default priority of its jobs; higher runs first.
    priority: int = 0
    retry_base_s: float | None = None
    retry_max_s: float | None = None

    def validate(self, payload: P | dict[str, Any]) -> P:
        """The payload as this entrypoint's model, or pydantic's ValidationError."""
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        return self.payload.model_validate(data)

    def parse(self, raw: bytes | None) -> P:
        try:
            return self.payload.model_validate_json(raw if raw is not None else b"{}")
        except ValidationError as e:
            raise InvalidPayload(f"payload does not fit {self.name}: {e}") from e
