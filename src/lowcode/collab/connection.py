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
import uuid
from dataclasses import dataclass, field

from limits import RateLimitItem
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.websockets import WebSocket, WebSocketState

from lowcode.platform.metrics import Metrics

log = logging.getLogger("lowcode.collab")

CLOSE_TIMEOUT_S = 5.0


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
    websocket: WebSocket
    member: Member
    read_only: bool
    queue_size: int
    metrics: Metrics | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    queue: asyncio.Queue[str] = field(init=False)
    closed: bool = False
    close_code: int | None = None
    _writer: asyncio.Task[None] | None = None
    _closer: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_size)

    def start_writer(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.id}")

    def offer(self, frame: str) -> bool:
        """Queue a frame; False (and the connection is being dropped) when it is full."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(1013, "too slow to keep up")
            return False
        if self.metrics is not None:
            self.metrics.ws_messages.labels("out", frame_type(frame)).inc()
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
                    self.queue.task_done()
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


class RateGate:
    """Per-connection limits (ops, cursor moves) on the `limits` library's
    in-memory moving window — nothing to share across processes here."""

    def __init__(self, item: RateLimitItem) -> None:
        self._item = item
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, key: str) -> bool:
        return self._limiter.hit(self._item, key)
