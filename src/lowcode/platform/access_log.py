"""The outermost HTTP middleware: request id, one access-log line per request,
and the HTTP metrics.

It wraps everything (Connexion's routing, security, validation, error
handlers), so auth failures, 404s, validation errors and rate-limited requests
are all logged — no request can bypass it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lowcode.platform.metrics import Metrics
from lowcode.platform.problems import PROBLEM_MEDIA_TYPE, problem_body
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        # Read the body (up to the capture cap) before the app runs, so it is
        # logged even when the app rejects the request without reading it.
        early, req_body = await _read_head_of_body(receive)
        resp_body = bytearray()
        status = 500
        resp_type: str | None = None
        started = False

        async def receive_wrapper() -> Message:
            if early:
                return early.pop(0)
            return await receive()

        async def send_wrapper(message: Message) -> None:
            nonlocal status, resp_type, started
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
            elif message["type"] == "http.response.body" and len(resp_body) < _CAPTURE_CAP:
                resp_body.extend(message.get("body", b"")[: _CAPTURE_CAP - len(resp_body)])
            await send(message)

        self.metrics.http_in_flight.inc()
        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            access_log.exception("request failed before a response was sent")
            if not started:
                await _send_bare_500(send_wrapper, request_id)
            raise
        finally:
            self.metrics.http_in_flight.dec()
            elapsed = time.perf_counter() - start
            routing = scope["extensions"].get(ROUTING_EXTENSION) or {}
            route = self.route_for(routing.get("operation_id"))
            method = scope["method"]
            self.metrics.http_requests.labels(route, method, str(status)).inc()
            self.metrics.http_latency.labels(route, method).observe(elapsed)
            self._log(
                scope,
                headers,
                status,
                elapsed,
                route,
                req_state,
                request_id,
                req_body,
                bytes(resp_body),
                resp_type,
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
            "request_body": body_for_log(req_body, headers.get("content-type"), self.body_limit),
            "response_body": body_for_log(resp_body, resp_type, self.body_limit),
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        access_log.log(level, "%s %s %s", scope["method"], scope["path"], status, extra=fields)


async def _read_head_of_body(receive: Receive) -> tuple[list[Message], bytes]:
    """Receive messages until the body ends or `_CAPTURE_CAP` bytes are in hand;
    they are replayed to the app unchanged."""
    messages: list[Message] = []
    captured = bytearray()
    while len(captured) < _CAPTURE_CAP:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        captured.extend(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, bytes(captured[:_CAPTURE_CAP])


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _send_bare_500(send: Send, request_id: str) -> None:
    body = problem_body(code="INTERNAL_ERROR", status=500, detail=None, language="en") | {
        "request_id": request_id
    }
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode())],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
