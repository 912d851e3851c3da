"""Secrets in query strings never reach a span.

OpenTelemetry's ASGI middleware records the query (`http.url`, `http.target`,
`url.query`) of every HTTP request and WebSocket handshake, and a WebSocket
client may send its access token as `?access_token=`. `HideSecretsFromTracing`
(outside the OTel middleware) hands it a scope whose query has sensitive
values redacted; `RestoreQuery` (just inside it) gives the application the
original back.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from lowcode.platform.redaction import is_sensitive, redact_query

_ORIGINAL_QUERY = "lowcode.original_query"


def _has_secret(query: bytes) -> bool:
    return any(is_sensitive(k) for k, _ in parse_qsl(query.decode("latin-1")))


class HideSecretsFromTracing:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"") if scope["type"] in ("http", "websocket") else b""
        if query and _has_secret(query):
            scope = dict(scope)
            scope["extensions"] = {**(scope.get("extensions") or {}), _ORIGINAL_QUERY: query}
            scope["query_string"] = redact_query(query.decode("latin-1")).encode("latin-1")
        await self.app(scope, receive, send)


class RestoreQuery:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        original = (scope.get("extensions") or {}).get(_ORIGINAL_QUERY)
        if original is not None:
            scope = {**scope, "query_string": original}
        await self.app(scope, receive, send)
