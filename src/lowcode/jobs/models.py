"""What the admin API shows of a job.

pgqueuer's statuses are renamed for the API: `picked` is `running`,
`successful` is `succeeded`; a held job (`failed`) is `failed`. Jobs that
finished leave the queue table and live on in its log (until pruned), so a
finished job shows no payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

API_STATUS: dict[str, str] = {
    "queued": "queued",
    "picked": "running",
    "failed": "failed",
    "exception": "failed",
    "successful": "succeeded",
    "canceled": "canceled",
    "deleted": "deleted",
}
# The statuses a job still in the queue table can be listed by, API → pgqueuer.
LISTABLE: dict[str, str] = {"queued": "queued", "running": "picked", "failed": "failed"}


def decode_payload(raw: bytes | None) -> Any:
    """Our payloads are JSON; anything else is shown as text."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class JobError:
    type: str
    message: str
    traceback: str
    at: datetime

    @classmethod
    def from_record(cls, record: Any, at: datetime) -> JobError | None:
        """From pgqueuer's TracebackRecord JSON; a retry records the cause in `reason`."""
        if not isinstance(record, dict):
            return None
        context = record.get("additional_context") or {}
        reason = context.get("reason") if isinstance(context, dict) else None
        kind, message = (
            str(record.get("exception_type", "")),
            str(record.get("exception_message", "")),
        )
        if kind == "RetryRequested" and isinstance(reason, str):
            kind, _, message = reason.partition(": ")
        return cls(kind, message, str(record.get("traceback", "")), at)

    def to_api(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "traceback": self.traceback,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class JobEvent:
    status: str
    at: datetime
    error: str | None

    def to_api(self) -> dict[str, Any]:
        return {"status": self.status, "at": self.at.isoformat(), "error": self.error}


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    entrypoint: str
    status: str
    priority: int
    # Runs started since the job was (re-)queued.
    attempts: int
    dedupe_key: str | None
    created_at: datetime
    updated_at: datetime
    execute_after: datetime | None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "entrypoint": self.entrypoint,
            "status": self.status,
            "priority": self.priority,
            "attempts": self.attempts,
            "dedupe_key": self.dedupe_key,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "execute_after": self.execute_after.isoformat() if self.execute_after else None,
        }


@dataclass(frozen=True, slots=True)
class JobDetail:
    job: Job
    payload: Any
    request_id: str | None
    last_error: JobError | None
    history: list[JobEvent]

    def to_api(self) -> dict[str, Any]:
        return {
            **self.job.to_api(),
            "payload": self.payload,
            "request_id": self.request_id,
            "last_error": self.last_error.to_api() if self.last_error else None,
            "history": [e.to_api() for e in self.history],
        }


@dataclass(frozen=True, slots=True)
class EntrypointStats:
    entrypoint: str
    ready: int = 0
    scheduled: int = 0
    running: int = 0
    held: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    canceled: int = 0

    def to_api(self) -> dict[str, Any]:
        return {
            "entrypoint": self.entrypoint,
            "ready": self.ready,
            "scheduled": self.scheduled,
            "running": self.running,
            "held": self.held,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "retried": self.retried,
            "canceled": self.canceled,
        }
