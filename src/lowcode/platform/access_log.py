"""The outermost HTTP middleware: request id, one access-log line per request,
and the HTTP metrics.

It wraps everything (Connexion's routing, security, validation, error
handlers), so auth failures, 404s, validation errors and rate-limited requests
are all logged — no request can bypass it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lowcode.platform.metrics import Metrics
from lowcode.platform.problems import send_problem
from lowcode.platform.redaction import body_for_log, redact_query
from lowcode.platform.request_context import (
    STATE_KEY,
    RequestState,
    accept_request_id,
    bind_request_id,
    reset_request_id,
)

access_log = logging.getLogger("lowcode.access")

# How much of a body we keep in memory to log it: enough to parse (and so
# redact) any body up to 1 MiB, then truncate to the configured limit.
_CAPTURE_CAP = 1024 * 1024
ROUTING_EXTENSION = "connexion_routing"


class AccessLogMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        route_for: Callable[[str | None], str],
        body_limit: int = 50 * 1024,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.route_for = route_for
        self.body_limit = body_limit
        # The labelled children, looked up once per (route, method[, status]):
        # `labels()` takes a lock and builds its key on every call.
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}

    def _count(self, route: str, method: str, status: int, elapsed: float) -> None:
        requests = self._requests.get((route, method, status))
        if requests is None:
            requests = self._requests[(route, method, status)] = self.metrics.http_requests.labels(
                route, method, str(status)
            )
        latency = self._latency.get((route, method))
        if latency is None:
            latency = self._latency[(route, method)] = self.metrics.http_latency.labels(
                route, method
            )
        requests.inc()
        latency.observe(elapsed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        request_id = accept_request_id(headers.get("x-request-id"))
        token = bind_request_id(request_id)
        # Connexion's router copies the scope but keeps this dict, so the
        # operation it matched is visible here afterwards.
        scope.setdefault("extensions", {})
        state = scope.setdefault("state", {})
        req_state = RequestState()
        state[STATE_KEY] = req_state

        start = time.perf_counter()
        # The request body is captured as it flows to the app (up to the
        # cap): the body guard behind us reads every body it lets through
        # whole, and the legacy proxy streams routed ones, so nothing is read
        # here ahead of the app — which would hold a slow or huge body before
        # any limit or deadline applies.
        # Chunks as sent, not copies: most bodies are one chunk, joined never.
        req_body: list[bytes] = []
        resp_body: list[bytes] = []
        sizes = [0, 0]  # captured bytes: request, response
        status = 500
        resp_type: str | None = None
        served_by = "lowcode"
        started = False

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "http.request" and sizes[0] < _CAPTURE_CAP:
                _capture(req_body, sizes, 0, message.get("body", b""))
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status, resp_type, served_by, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                raw = list(message.get("headers", []))
                raw = [(k, v) for k, v in raw if k.lower() != b"x-request-id"]
                raw.append((b"x-request-id", request_id.encode()))
                message["headers"] = raw
                for k, v in raw:
                    if k.lower() == b"content-type":
                        resp_type = v.decode("latin-1")
                    elif k.lower() == b"x-served-by":
                        served_by = v.decode("latin-1")
            elif message["type"] == "http.response.body" and sizes[1] < _CAPTURE_CAP:
                _capture(resp_body, sizes, 1, message.get("body", b""))
            await send(message)

        self.metrics.http_in_flight.inc()
        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            access_log.exception("request failed before a response was sent")
            if not started:
                await send_problem(
                    send_wrapper,
                    code="INTERNAL_ERROR",
                    status=500,
                    headers={"x-served-by": "lowcode"},
                )
            raise
        finally:
            self.metrics.http_in_flight.dec()
            elapsed = time.perf_counter() - start
            routing = scope["extensions"].get(ROUTING_EXTENSION) or {}
            route = self.route_for(routing.get("operation_id"))
            method = scope["method"]
            self._count(route, method, status, elapsed)
            self._log(
                scope,
                headers,
                status,
                elapsed,
                route,
                req_state,
                request_id,
                _joined(req_body),
                _joined(resp_body),
                resp_type,
                served_by,
            )
            reset_request_id(token)

    def _log(
        self,
        scope: Scope,
        headers: dict[str, str],
        status: int,
        elapsed: float,
        route: str,
        req_state: RequestState,
        request_id: str,
        req_body: bytes,
        resp_body: bytes,
        resp_type: str | None,
        served_by: str = "lowcode",
    ) -> None:
        ctx = trace.get_current_span().get_span_context()
        client = scope.get("client")
        fields: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "query": redact_query(scope.get("query_string", b"").decode("latin-1")),
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "request_id": request_id,
            "trace_id": format(ctx.trace_id, "032x") if ctx.is_valid else None,
            "ip": client[0] if client else None,
            "user_agent": headers.get("user-agent"),
            "user_id": req_state.user_id,
            # Who answered: this service, or the legacy backend (routed or fallback).
            "served_by": served_by,
            "request_body": body_for_log(req_body, headers.get("content-type"), self.body_limit),
            "response_body": body_for_log(resp_body, resp_type, self.body_limit),
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        access_log.log(level, "%s %s %s", scope["method"], scope["path"], status, extra=fields)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """WebSockets get two lines: the handshake's outcome (101 accepted, or
        the HTTP status it was denied with) and, when the socket ends, its
        close code — so 4401/4403/4404 refusals are on record like any 401."""
        headers = _headers(scope)
        request_id = accept_request_id(headers.get("x-request-id"))
        req_state = RequestState()
        scope.setdefault("state", {})[STATE_KEY] = req_state
        start = time.perf_counter()
        outcome: dict[str, Any] = {"status": None, "close_code": None}

        def line(event: str, level: int = logging.INFO) -> None:
            client = scope.get("client")
            access_log.log(
                level,
                "WEBSOCKET %s %s %s",
                scope["path"],
                event,
                outcome["close_code"] or outcome["status"],
                extra={
                    "method": "WEBSOCKET",
                    "event": event,
                    "path": scope["path"],
                    "query": redact_query(scope.get("query_string", b"").decode("latin-1")),
                    "status": outcome["status"],
                    "close_code": outcome["close_code"],
                    "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                    "request_id": request_id,
                    "ip": client[0] if client else None,
                    "user_agent": headers.get("user-agent"),
                    "user_id": req_state.user_id,
                },
            )

        async def send_wrapper(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept" and outcome["status"] is None:
                outcome["status"] = 101
                line("connect")
            elif kind == "websocket.close":
                if outcome["status"] is None:
                    outcome["status"] = 403  # closed before accepting: a denied handshake
                    line("connect")
                outcome["close_code"] = outcome["close_code"] or message.get("code", 1000)
            elif kind == "websocket.http.response.start" and outcome["status"] is None:
                outcome["status"] = message["status"]
                line("connect")
            await send(message)

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and outcome["close_code"] is None:
                outcome["close_code"] = message.get("code", 1005)
            return message

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        finally:
            line("close")


def _capture(chunks: list[bytes], sizes: list[int], which: int, body: bytes) -> None:
    room = _CAPTURE_CAP - sizes[which]
    if body:
        chunks.append(body if len(body) <= room else body[:room])
        sizes[which] += min(len(body), room)


def _joined(chunks: list[bytes]) -> bytes:
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# The request headers the log line uses; the others are not decoded at all.
_LOGGED_HEADERS = frozenset({b"x-request-id", b"user-agent", b"content-type"})


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        key = k.lower()
        if key in _LOGGED_HEADERS:
            found[key.decode()] = v.decode("latin-1")
    return found
