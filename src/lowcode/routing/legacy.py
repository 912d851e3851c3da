"""The legacy backend: one pooled httpx client, a breaker, and the streaming
forward of one request.

Both bodies stream: the request body goes out as our client sends it (with
its Content-Length, so it is not re-chunked), the response comes back with
`aiter_raw`, so its Content-Encoding stays true. The breaker counts connect
errors, timeouts and 502/503/504 answers; once open, nothing is sent to the
backend until its reset time has passed.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from opentelemetry.trace import NoOpTracer, SpanKind, StatusCode, Tracer
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from starlette.types import Receive, Scope, Send

from lowcode.platform.request_context import current_request_id, new_request_id
from lowcode.routing.headers import request_headers, response_headers
from lowcode.routing.metrics import BREAKER_STATES, LegacyMetrics
from lowcode.settings import Settings

log = logging.getLogger("lowcode.routing.legacy")

CIRCUIT = "legacy"
# Answers that say the backend (or a proxy before it) is unwell, not the request.
UNHEALTHY = frozenset({502, 503, 504})


class Outcome(enum.Enum):
    SENT = "sent"
    BREAKER_OPEN = "breaker_open"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    BAD_GATEWAY = "bad_gateway"
    CLIENT_GONE = "client_gone"


class ClientGone(Exception):
    """Our client disconnected while its body was being forwarded (not the
    backend's fault: the breaker does not count it)."""


class _Unhealthy(Exception):
    pass


async def stream_body(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as our client sends it, chunk by chunk."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _relay(response: httpx.Response, receive: Receive, send: Send) -> bool:
    """Stream the answer's body to our client; False if the client left first.

    The request body has been sent by now (HTTP/1.1 sends it before reading
    the answer), so `receive` can only report a client that went away; then
    the backend is let go at once instead of being read to its end (or held
    while it stalls).
    """

    async def pump() -> None:
        async for chunk in response.aiter_raw():
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def client_gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    pumping = asyncio.create_task(pump())
    watching = asyncio.create_task(client_gone())
    try:
        await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watching.cancel()
        if not pumping.done():
            pumping.cancel()
        await asyncio.gather(pumping, watching, return_exceptions=True)
    if pumping.cancelled():
        return False
    pumping.result()  # a backend failure mid-stream propagates: the response is cut
    return True


def has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        n = name.lower()
        if (n == b"content-length" and value.strip() != b"0") or n == b"transfer-encoding":
            return True
    return False


class LegacyBackend:
    def __init__(
        self, settings: Settings, metrics: LegacyMetrics, tracer: Tracer | None = None
    ) -> None:
        assert settings.legacy_base_url
        base = httpx.URL(settings.legacy_base_url)
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"LEGACY_BASE_URL must be an http(s) URL, not {base!r}")
        self.base = base
        self._prefix = base.raw_path.split(b"?", 1)[0].rstrip(b"/")
        self.metrics = metrics
        self.tracer = tracer or NoOpTracer()
        self.fallback = settings.legacy_fallback_on
        self.replay_max_bytes = settings.legacy_replay_max_bytes
        self.retry_after_s = max(1, round(settings.legacy_breaker_reset_s))
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.legacy_timeout_s, connect=settings.legacy_connect_timeout_s
            ),
            limits=httpx.Limits(
                max_connections=settings.legacy_max_connections,
                max_keepalive_connections=min(20, settings.legacy_max_connections),
            ),
            follow_redirects=False,  # a redirect is the client's to follow
            trust_env=False,  # no proxy from the environment between us and the backend
        )
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=settings.legacy_breaker_threshold,
            default_ttl=settings.legacy_breaker_reset_s,
            exclude=[ClientGone],
        )
        self.breakers.add_listener(self._on_breaker_event)

    async def aclose(self) -> None:
        await self.client.aclose()

    def _url(self, scope: Scope) -> httpx.URL:
        raw = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        return self.base.copy_with(raw_path=self._prefix + raw + (b"?" + query if query else b""))

    async def forward(
        self,
        scope: Scope,
        content: bytes | AsyncIterator[bytes] | None,
        receive: Receive,
        send: Send,
        *,
        kind: str,
    ) -> tuple[Outcome, int | None]:
        """Send the request, stream the answer to `send`: (SENT, its status).
        Any other outcome means nothing was sent to our client; the caller answers."""
        method = scope["method"]
        # A client span: the legacy backend's work joins our trace under it.
        with self.tracer.start_as_current_span(
            f"legacy {method}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "lowcode.legacy.kind": kind},
        ) as span:
            outcome, status = await self._exchange(scope, content, receive, send, kind)
            span.set_attribute("lowcode.legacy.outcome", outcome.value)
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if outcome not in (Outcome.SENT, Outcome.CLIENT_GONE):
                span.set_status(StatusCode.ERROR, outcome.value)
            return outcome, status

    async def _exchange(
        self,
        scope: Scope,
        content: bytes | AsyncIterator[bytes] | None,
        receive: Receive,
        send: Send,
        kind: str,
    ) -> tuple[Outcome, int | None]:
        request = self.client.build_request(
            scope["method"],
            self._url(scope),
            headers=request_headers(scope, current_request_id() or new_request_id()),
            content=content,
        )
        started = time.perf_counter()
        try:
            response = await self._open(request)
        except OpenedState:
            return Outcome.BREAKER_OPEN, None
        except ClientGone:
            return Outcome.CLIENT_GONE, None
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            log.warning("legacy backend unreachable", extra={"error": repr(e), "kind": kind})
            return Outcome.UNREACHABLE, None
        except httpx.TimeoutException as e:
            log.warning("legacy backend timed out", extra={"error": repr(e), "kind": kind})
            return Outcome.TIMEOUT, None
        except httpx.TransportError as e:
            log.warning("legacy backend failed", extra={"error": repr(e), "kind": kind})
            return Outcome.BAD_GATEWAY, None
        self.metrics.latency.labels(kind).observe(time.perf_counter() - started)
        try:
            version = response.http_version.removeprefix("HTTP/")
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": response_headers(response.headers.raw, version),
                }
            )
            # Past this point a failure can only cut the response short.
            if not await _relay(response, receive, send):
                return Outcome.CLIENT_GONE, response.status_code
        finally:
            await response.aclose()
        return Outcome.SENT, response.status_code

    async def _open(self, request: httpx.Request) -> httpx.Response:
        breaker = await self.breakers.get_breaker(CIRCUIT)
        response: httpx.Response | None = None
        try:
            async with breaker:
                response = await self.client.send(request, stream=True)
                if response.status_code in UNHEALTHY:
                    raise _Unhealthy  # counted by the breaker; still the answer
        except _Unhealthy:
            pass
        assert response is not None
        return response

    def _on_breaker_event(self, name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            state = str(event.state)
            self.metrics.breaker_state.set(BREAKER_STATES.get(state, 0))
            log.warning("legacy breaker %s", state, extra={"circuit": name, "state": state})
