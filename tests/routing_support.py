"""Real parts for the legacy-routing tests: the legacy server in its own
process, our app on a real socket (streaming needs one: httpx's ASGI
transport buffers whole bodies), and a TCP hop to Postgres that can be cut."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import uvicorn

from lowcode.app import LowcodeApp, create_app
from lowcode.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def listening_socket() -> socket.socket:
    """Bound to a free port by the kernel (port 0), already listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def dead_url() -> str:
    """An address where nothing listens: a port the kernel gave us, closed again."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@dataclass
class LegacyServer:
    url: str
    process: subprocess.Popen[bytes]

    def requests_seen(self) -> list[dict[str, str]]:
        return list(httpx.get(f"{self.url}/_control/requests", timeout=5).json()["requests"])


@contextlib.contextmanager
def legacy_server() -> Iterator[LegacyServer]:
    """`tests/legacy_server.py` in a process of its own, on a socket we bound."""
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    fd = sock.fileno()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.legacy_server", "--fd", str(fd)],
        cwd=ROOT,
        pass_fds=[fd],
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/_control/ping", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("legacy test server did not start")
            time.sleep(0.05)
        yield LegacyServer(url, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        sock.close()


class _InLoopServer(uvicorn.Server):
    """uvicorn in the test's event loop; signals stay pytest's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[tuple[LowcodeApp, str]]:
    """Our app, lifespan included, answering on a real socket."""
    app = create_app(settings)
    sock = listening_socket()
    # As `lowcode serve` runs it: the peer address is the client.
    config = uvicorn.Config(
        app, lifespan="on", log_config=None, access_log=False, proxy_headers=False
    )
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if task.done():
                task.result()
            if time.monotonic() > deadline:
                raise AssertionError("app did not start")
            await asyncio.sleep(0.02)
        yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


class PostgresHop:
    """A TCP forwarder between an app and Postgres. `cut()` closes every
    connection and refuses new ones — to the app, the database has stopped."""

    def __init__(self, dsn: str) -> None:
        self.upstream_dsn = dsn
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def dsn(self) -> str:
        parts = urlsplit(self.upstream_dsn)
        netloc = f"{parts.username or 'postgres'}@127.0.0.1:{self.port}"
        query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("host="))
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        parts = urlsplit(self.upstream_dsn)
        host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
        port = parts.port or 5432
        if host.startswith("/"):
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()
        await self._server.wait_closed()

    async def resume(self) -> None:
        """Listen again on the same port: the database is back."""
        await self.start()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._open_upstream()
        self._pipes.update({writer, up_writer})

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
