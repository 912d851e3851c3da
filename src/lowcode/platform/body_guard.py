"""The HTTP body guard: a request body served here is read whole, within a size cap
and a deadline, before anything else touches it.

Caps are per route family — auth bodies are small, page bodies are the page
limit plus slack, SQL bodies (SQL text, inline catalogs) larger, everything
else a modest default — and a `Content-Length`
above the cap is refused before a byte is read. A body that trickles in more
slowly than the deadline (slowloris) is cut off. The guard does not answer by
itself: it marks the request rejected and hands an empty body on, so the
access log still writes its line and the dispatcher answers with a problem.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATE_REJECTION = "lowcode.rejection"

_AUTH_PREFIX = "/api/v1/auth/"
_PAGE_PREFIXES = ("/api/v1/pages/",)
_PAGE_SUFFIX = "/pages"  # POST /api/v1/workspaces/{id}/pages
# SQL text is up to 100,000 characters (the spec's maxLength), plus an inline
# catalog for validate: these bodies get their own, larger cap.
_SQL_PREFIXES = ("/api/v1/sql/", "/api/v1/datasets/")
_SQL_SUFFIX = "/datasets"  # POST /api/v1/workspaces/{id}/datasets


@dataclass(frozen=True, slots=True)
class Rejection:
    status: int
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class BodyLimits:
    default: int
    auth: int
    page: int
    sql: int
    read_timeout_s: float

    def for_path(self, path: str) -> int:
        if path.startswith(_AUTH_PREFIX):
            return self.auth
        if path.startswith(_PAGE_PREFIXES) or (
            path.startswith("/api/v1/workspaces/") and path.endswith(_PAGE_SUFFIX)
        ):
            return self.page
        if path.startswith(_SQL_PREFIXES) or (
            path.startswith("/api/v1/workspaces/") and path.endswith(_SQL_SUFFIX)
        ):
            return self.sql
        return self.default


class BodyGuard:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        rejection = _check_length(scope, limit)
        messages: list[Message] = []
        if rejection is None:
            try:
                async with asyncio.timeout(self.limits.read_timeout_s):
                    rejection = await _read_body(receive, messages, limit)
            except TimeoutError:
                rejection = Rejection(
                    408,
                    "REQUEST_TIMEOUT",
                    f"the body did not arrive within {self.limits.read_timeout_s:g} s",
                )
        if rejection is None and _untyped_body(scope, messages):
            # Connexion would hand the raw bytes to a handler expecting JSON (a 500).
            rejection = Rejection(
                415, "UNSUPPORTED_MEDIA_TYPE", "a request body needs a Content-Type"
            )
        if rejection is not None:
            scope.setdefault("state", {})[STATE_REJECTION] = rejection
            messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)


def _untyped_body(scope: Scope, messages: list[Message]) -> bool:
    has_body = any(m.get("body") for m in messages if m["type"] == "http.request")
    return has_body and not any(k.lower() == b"content-type" for k, _ in scope.get("headers", []))


def _check_length(scope: Scope, limit: int) -> Rejection | None:
    values = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
    if not values:
        return None
    raw = values[0].strip()
    if len(values) > 1 or not (raw.isascii() and raw.isdigit()):
        return Rejection(400, "BAD_REQUEST", "Content-Length must be one decimal number")
    if int(raw) > limit:
        return _too_large(limit)
    return None


async def _read_body(receive: Receive, messages: list[Message], limit: int) -> Rejection | None:
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None  # a disconnect: the app sees it in turn
        size += len(message.get("body", b""))
        if size > limit:
            return _too_large(limit)
        if not message.get("more_body", False):
            return None


def _too_large(limit: int) -> Rejection:
    return Rejection(413, "TOO_LARGE", f"request bodies here are limited to {limit} bytes")
