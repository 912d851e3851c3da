"""A protocol-checking collaboration client, and apps served by uvicorn on a real socket
for it to talk to (WebSockets need one)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from asgi_lifespan import LifespanManager
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from lowcode.app import LowcodeApp, create_app
from lowcode.platform.websocket.protocol import load_protocol
from lowcode.settings import PROJECT_ROOT
from tests.lifespan import with_state
from tests.ports import free_port

PROTOCOL = load_protocol(PROJECT_ROOT / "api/asyncapi/collab.yaml")

CLOSED = "__closed__"


class PeerClosed(Exception):
    """The server closed the connection (the code is the argument)."""


class Peer:
    """A collaboration client that checks every server frame against the AsyncAPI schemas."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.close_code: int | None = None
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                errors = PROTOCOL.server_errors(frame)
                if errors:
                    self.violations.append(f"{frame.get('type')}: {errors}")
                self.seen.append(frame)
                await self.frames.put(frame)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.frames.put_nowait({"type": CLOSED})

    async def send(self, frame_type: str, payload: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"type": frame_type}
        if payload is not None:
            body["payload"] = payload
        await self.ws.send(json.dumps(body))

    async def next(self, frame_type: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame (of `frame_type`, skipping others)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frames.get()
                if frame["type"] == CLOSED:
                    self.frames.put_nowait(frame)  # stays closed for later calls
                    raise PeerClosed(self.close_code)
                if frame_type is None or frame["type"] == frame_type:
                    return frame

    async def closed(self, timeout: float = 5.0) -> int | None:
        async with asyncio.timeout(timeout):
            await self._reader
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self._reader, 5)


async def open_peer(
    live: str, page_id: str, token: str, rcvbuf: int | None = None, **kwargs: Any
) -> Peer:
    if rcvbuf is not None:
        # A small, fixed receive buffer (no autotuning) so a client that stops
        # reading backs up into the server quickly.
        host, port = live.removeprefix("ws://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        kwargs["sock"] = sock
    ws = await connect(
        f"{live}/ws/pages/{page_id}",
        subprotocols=["lowcode.v1", f"bearer.{token}"],  # type: ignore[list-item]
        **kwargs,
    )
    return Peer(ws)


@contextlib.asynccontextmanager
async def uvicorn_serving(app: LowcodeApp, **config: Any) -> AsyncIterator[str]:
    """ws://host:port of `app` served by uvicorn in this event loop (its lifespan is
    the caller's business: started, its state is copied into every scope)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            with_state(app),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_config=None,
            ws_max_size=16 * 2**20,
            **config,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def serve_app(settings: Any, **overrides: Any) -> AsyncIterator[tuple[Any, str]]:
    """A second app with other settings (limits, queue sizes), on its own port."""
    application = create_app(settings.model_copy(update=overrides))
    async with (
        LifespanManager(application, startup_timeout=30, shutdown_timeout=30),
        uvicorn_serving(
            application,
            ws_ping_interval=application.settings.ws_ping_interval_s,
            ws_ping_timeout=application.settings.ws_ping_timeout_s,
        ) as url,
    ):
        yield application, url
