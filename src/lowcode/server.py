"""Running the ASGI app under uvicorn with our shutdown order."""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lowcode.app import LowcodeApp, create_app
from lowcode.platform.serving import Server
from lowcode.settings import Settings

log = logging.getLogger("lowcode.server")


class _Server(Server):
    """uvicorn, but readiness turns 503 the moment SIGTERM/SIGINT arrives —
    before uvicorn stops accepting — so probes see the drain first."""

    def __init__(self, config: uvicorn.Config, app: LowcodeApp) -> None:
        super().__init__(config)
        self.lowcode = app
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        log.info("shutdown requested", extra={"signal": sig})
        if self.lowcode.res is not None:
            self.lowcode.res.shutting_down.set()
        if self.loop is not None and not self.should_exit:
            # Rooms close their sockets (1012) while uvicorn drains HTTP requests.
            self.loop.call_soon_threadsafe(
                lambda: self.loop.create_task(self.lowcode.begin_shutdown())  # type: ignore[union-attr]
            )
        super().handle_exit(sig, frame)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with a deadline on request headers.

    uvicorn times out idle keep-alive connections, but not a connection that
    never finishes its headers (slowloris: a byte every few seconds holds a
    socket and a file descriptor forever, and the ASGI app never even sees
    it). The deadline runs from the connection's first moment, and from the
    first byte of each later request, until the headers are complete.
    Bodies have their own deadline in the app (`platform.body_guard`)."""

    header_timeout_s = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def run_server(settings: Settings) -> None:
    app = create_app(settings)
    protocol = type(
        "LowcodeHttpProtocol",
        (HeaderDeadlineProtocol,),
        {"header_timeout_s": settings.http_header_timeout_s},
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_config=None,
        access_log=False,
        # X-Forwarded-* are handled in the app (`FORWARDED_ALLOW_IPS`), not twice.
        proxy_headers=False,
        http=protocol,
        # Connections plus in-flight tasks beyond this get a bare 503 from
        # uvicorn (overload, not bad input); idle keep-alives close after the timeout.
        limit_concurrency=settings.http_max_concurrency,
        timeout_keep_alive=int(settings.http_keepalive_timeout_s),
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        interface="asgi3",
        ws_max_size=4 * settings.ws_max_message_bytes,
        # Protocol pings; a peer that misses them (about two) is dropped.
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
    )
    _Server(config, app).run()
