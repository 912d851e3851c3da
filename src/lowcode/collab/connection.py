"""One WebSocket client of a room: who it is, and its bounded outbound queue.

Reader/writer split: the endpoint's reader task turns frames into room events;
this writer task is the only one sending on the socket. The room never awaits
a client: it `offer`s frames, and a client whose queue is full is too slow to
keep up and is disconnected (1013) instead of stalling everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from limits import parse
from starlette.websockets import WebSocket, WebSocketState

from lowcode.platform.metrics import Metrics

log = logging.getLogger("lowcode.collab")

CLOSE_TIMEOUT_S = 5.0
SYNC_PREFIX = '{"type":"sync"'


def frame_type(frame: str) -> str:
    """The type of a frame made by `protocol.encode` (it starts `{"type":"…"`)."""
    end = frame.find('"', 9)
    return frame[9:end] if frame.startswith('{"type":"') and end > 9 else "other"


@dataclass(frozen=True, slots=True)
class Member:
    id: uuid.UUID
    name: str

    def to_api(self) -> dict[str, str]:
        return {"id": str(self.id), "name": self.name}


@dataclass(eq=False)
class Connection:
    """A client socket's outbound side. The queue is bounded twice: in frames
    and in bytes, because one sync frame of a 2 MiB page weighs as much as
    thousands of ops — a client that stops reading must not pin memory
    proportional to frames times the page size before it is dropped (1013)."""

    websocket: WebSocket
    member: Member
    read_only: bool
    queue_size: int
    metrics: Metrics | None = None
    queue_bytes: int = 8 * 1024 * 1024
    # The session the socket was authorised with; its access is re-checked
    # against it (`collab.access`). None only for sockets made in tests.
    session_id: uuid.UUID | None = None
    # (access epoch, monotonic time) of the last live-authorisation answer.
    access_checked: tuple[int, float] | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    queue: asyncio.Queue[str] = field(init=False)
    queued_bytes: int = 0
    closed: bool = False
    # Until one of its ops is applied, an op may be a resend of one sent on an
    # earlier connection (resends come first): the room looks its opId up.
    may_resend: bool = True
    close_code: int | None = None
    # Owned by the reader (and the room, which hands them back): what this
    # client has waiting in its room's inbox.
    ops_in_flight: int = 0
    cursors_in_flight: int = 0
    sync_pending: bool = False
    _writer: asyncio.Task[None] | None = None
    _closer: asyncio.Task[None] | None = None
    # The labelled counter per frame type (`labels()` costs more than `inc()`).
    _sent: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_size)

    def presence(self) -> dict[str, str]:
        """This connection as the others in the room see it (AsyncAPI `Collaborator`):
        presence is per connection, so two tabs of one user are two entries."""
        return {**self.member.to_api(), "connectionId": self.id}

    def start_writer(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.id}")

    def offer(self, frame: str) -> bool:
        """Queue a frame; False (and the connection is being dropped) when the
        queue is full in frames or in bytes."""
        if self.closed:
            return False
        if self.queued_bytes + len(frame) > self.queue_bytes:
            self.close(1013, "too slow to keep up")
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(1013, "too slow to keep up")
            return False
        self.queued_bytes += len(frame)
        if self.metrics is not None:
            kind = frame_type(frame)
            counter = self._sent.get(kind)
            if counter is None:
                counter = self._sent[kind] = self.metrics.ws_messages.labels("out", kind)
            counter.inc()
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Close from any task without waiting; idempotent."""
        if self.closed:
            return
        self.closed, self.close_code = True, code
        if self._writer is not None:
            self._writer.cancel()
        self._closer = asyncio.create_task(
            self._send_close(code, reason), name=f"ws-close-{self.id}"
        )

    async def _send_close(self, code: int, reason: str) -> None:
        # A stalled peer may never drain its socket; the close must not hang on it.
        with contextlib.suppress(Exception):
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await asyncio.wait_for(self.websocket.close(code, reason), CLOSE_TIMEOUT_S)

    async def _write(self) -> None:
        try:
            while True:
                frame = await self.queue.get()
                try:
                    await self.websocket.send_text(frame)
                finally:
                    self.queued_bytes -= len(frame)
                    self.queue.task_done()
                if frame.startswith(SYNC_PREFIX):
                    self.sync_pending = False
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.debug("writer stopped", extra={"connection": self.id, "error": str(e)})

    async def drain_and_stop(self, timeout_s: float = 2.0) -> None:
        """Let queued frames go out (bounded), then stop the writer."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout_s)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer


class TokenBucket:
    """A per-connection rate limit: `amount` per `period_s`, in bursts of up
    to `amount`. Written here rather than taken from `limits`: its in-memory
    storage re-arms a `threading.Timer` every few milliseconds and scans every
    key under the GIL, for what is two floats per connection and no sharing."""

    __slots__ = ("_capacity", "_rate", "_stamp", "_tokens")

    def __init__(self, amount: int, period_s: float) -> None:
        self._capacity = float(amount)
        self._rate = amount / period_s
        self._tokens = float(amount)
        self._stamp = time.monotonic()

    @classmethod
    def parse(cls, rule: str) -> TokenBucket:
        """From the `limits` notation used in settings, e.g. `30/second`."""
        item = parse(rule)
        return cls(item.amount, float(item.get_expiry()))

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
