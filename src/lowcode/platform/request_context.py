"""Per-request values that every log line and problem body carry.

The request id lives in a ContextVar because log records are created deep in
libraries (asyncpg, Connexion) that cannot be handed it explicitly; it is set
once by the access-log middleware and only ever read elsewhere.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Accept a client's id only when it cannot smuggle anything into logs or headers.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    if value and _SANE_REQUEST_ID.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(value: str | None) -> object:
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]


@dataclass(slots=True)
class RequestState:
    """Mutable per-request facts the handlers report to the access log."""

    user_id: str | None = None
    extras: dict[str, str] = field(default_factory=dict)


STATE_KEY = "lowcode.request_state"
# The process's `Settings`, in every scope's state (the lifespan yields it), for
# the platform code that runs before a handler and needs a configured bound.
STATE_SETTINGS = "lowcode.settings"
