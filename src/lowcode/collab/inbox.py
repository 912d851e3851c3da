"""What a room's inbox carries: one event per thing that happens to the room."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from lowcode.collab.connection import Connection


@dataclass
class Join:
    conn: Connection


@dataclass
class Leave:
    conn: Connection


@dataclass
class Op:
    conn: Connection
    patches: list[dict[str, Any]]
    base_version: int
    op_id: str
    received_at: float
    size: int = 0  # bytes of the frame, counted against the room's inbox budget


@dataclass
class Cursor:
    conn: Connection
    payload: dict[str, Any]


@dataclass
class SyncRequest:
    conn: Connection


@dataclass
class HeadMoved:
    """The op log advanced (NOTIFY); None: notifications may have been lost."""

    version: int | None


@dataclass
class Tick:
    pass


@dataclass
class AccessChanged:
    """Who may do what may have changed: re-check the sockets of these users
    (None: every socket of the room) — `collab.access`."""

    users: frozenset[uuid.UUID] | None


@dataclass
class Shutdown:
    code: int


Event = Join | Leave | Op | Cursor | SyncRequest | HeadMoved | Tick | Shutdown | AccessChanged
