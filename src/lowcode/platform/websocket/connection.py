"""One WebSocket client: who it is, and its bounded outbound queue.

Reader/writer split: the endpoint's reader task handles incoming frames; this
writer task is the only one sending on the socket. Producers (a room, the
event bus) never await a client: they `offer` frames, and a client whose
queue is full is too slow to keep up and is disconnected (1013) instead of
stalling everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from lowcode.platform.metrics import Metrics
from lowcode.platform.websocket.protocol import Frame

log = logging.getLogger("lowcode.websocket")

CLOSE_TIMEOUT_S = 5.0


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
    queue_size: int
    metrics: Metrics | None = None
    queue_bytes: int = 8 * 1024 * 1024
    # The session the socket was authorised with; its access is re-checked
    # against it (`collab.access`, `events.bus`). None only for sockets made in tests.
    session_id: uuid.UUID | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    queue: asyncio.Queue[Frame] = field(init=False)
    queued_bytes: int = 0
    closed: bool = False
    close_code: int | None = None
    _writer: asyncio.Task[None] | None = None
    _closer: asyncio.Task[None] | None = None
    # The labelled counter per frame type (`labels()` costs more than `inc()`).
    _sent: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_size)

    def start_writer(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.id}")

    def offer(self, frame: Frame) -> bool:
        """Queue a frame; False (and the connection is being dropped) when the
        queue is full in frames or in bytes."""
        if self.closed:
            return False
        size = len(frame.text)
        if self.queued_bytes + size > self.queue_bytes:
            self.close(1013, "too slow to keep up")
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(1013, "too slow to keep up")
            return False
        self.queued_bytes += size
        if self.metrics is not None:
            counter = self._sent.get(frame.kind)
            if counter is None:
                counter = self._sent[frame.kind] = self.metrics.ws_messages.labels(
                    "out", frame.kind
                )
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

    def written(self, frame: Frame) -> None:
        """Called by the writer once `frame` went out (after the send returned)."""

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
                    await self.websocket.send_text(frame.text)
                finally:
                    self.queued_bytes -= len(frame.text)
                    self.queue.task_done()
                self.written(frame)
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
            # The writer is being stopped; a send it was failing on (a dead
            # socket) says nothing the caller can act on.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
