"""Entrypoints: a name, a pydantic payload model, a handler and its policy.

Each context that has background work declares its entrypoints as module
constants (see `maintenance.py`); `load_entrypoints` collects the built-in
ones plus any named by WORKER_IMPORTS and keeps those WORKER_ENTRYPOINTS asks
for. Nothing registers itself at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from lowcode.settings import Settings

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


def builtin_entrypoints() -> list[Entrypoint[Any]]:
    from lowcode.jobs.maintenance import ENTRYPOINTS
    from lowcode.sync.schedule import ENTRYPOINTS as SYNC_ENTRYPOINTS

    return [*ENTRYPOINTS, *SYNC_ENTRYPOINTS]


def _imported(spec: str) -> Iterable[Entrypoint[Any]]:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"WORKER_IMPORTS entry {spec!r} is not `module:attribute`")
    found = getattr(importlib.import_module(module_name), attribute)
    items = list(found)
    for item in items:
        if not isinstance(item, Entrypoint):
            raise ValueError(f"{spec} holds {item!r}, not an Entrypoint")
    return items


def split_names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def known_entrypoints(settings: Settings) -> dict[str, Entrypoint[Any]]:
    """Every entrypoint this process knows: built-in and WORKER_IMPORTS."""
    known: dict[str, Entrypoint[Any]] = {}
    candidates = builtin_entrypoints()
    for spec in split_names(settings.worker_imports):
        candidates.extend(_imported(spec))
    for ep in candidates:
        if ep.name in known and known[ep.name] is not ep:
            raise ValueError(f"two entrypoints are named {ep.name!r}")
        known[ep.name] = ep
    return known


def selected_entrypoints(
    settings: Settings, known: dict[str, Entrypoint[Any]]
) -> dict[str, Entrypoint[Any]]:
    """The entrypoints this worker runs: WORKER_ENTRYPOINTS, or all it knows."""
    wanted = split_names(settings.worker_entrypoints)
    if not wanted:
        return dict(known)
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"WORKER_ENTRYPOINTS names unknown entrypoints: {', '.join(unknown)}")
    return {name: known[name] for name in wanted}
