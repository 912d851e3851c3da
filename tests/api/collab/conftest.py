"""A real uvicorn server on a socket for WebSocket tests, and a protocol-checking client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from lowcode.platform.websocket.protocol import load_protocol
from lowcode.settings import PROJECT_ROOT

PROTOCOL = load_protocol(PROJECT_ROOT / "api/asyncapi/collab.yaml")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
async def live(app) -> AsyncIterator[str]:
    """ws://host:port of the session app served by uvicorn in this event loop."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_config=None, ws_max_size=16 * 2**20
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"ws://127.0.0.1:{port}"
    server.should_exit = True
    await task


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
async def serve_app(settings: Any, **overrides: Any) -> AsyncIterator[tuple[Any, str]]:
    """A second app with other settings (limits, queue sizes), on its own port."""
    from asgi_lifespan import LifespanManager

    from lowcode.app import create_app

    application = create_app(settings.model_copy(update=overrides))
    port = free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        ws_max_size=16 * 2**20,
        ws_ping_interval=application.settings.ws_ping_interval_s,
        ws_ping_timeout=application.settings.ws_ping_timeout_s,
    )
    server = uvicorn.Server(config)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        try:
            yield application, f"ws://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task
