"""The legacy router: the one ASGI middleware that decides who serves a request.

    access log ─► LegacyRouter ─┬─ routed workspace+tag ─► legacy backend (streamed)
                                └─ otherwise ─► our app ─┬─ answer ─► client
                                                         └─ 5xx before any byte ─► replay to legacy

Every HTTP response leaves with `X-Served-By: lowcode` or `legacy`. A
request whose `Via` already names us is never sent to the legacy backend.

The fallback replays only what is safe to send twice: GET, HEAD, PUT and
DELETE (safe or idempotent by HTTP's definition), and POST/PATCH requests that
carry an idempotency key (a body `opId`, or an `Idempotency-Key` header) — the
legacy backend recognises the retry as the same operation. Any other POST may
already have had its effect here before failing, so running it again could do
it twice. Nothing is replayed once a response byte has left, nor for requests
whose body exceeds LEGACY_REPLAY_MAX_BYTES (the body is kept for the replay
while our handler reads it), nor for operations of tags the legacy backend
does not serve (health, admin, flags).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lowcode.platform.i18n import preferred_language
from lowcode.platform.problems import PROBLEM_MEDIA_TYPE, problem_body
from lowcode.routing.headers import SERVED_BY, came_through_us
from lowcode.routing.legacy import LegacyBackend, Outcome, has_body, stream_body
from lowcode.routing.state import Routing

log = logging.getLogger("lowcode.routing")

REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
KEYED_METHODS = frozenset({"POST", "PATCH"})
ROUTING_EXTENSION = "connexion_routing"
SERVED_BY_US = (SERVED_BY, b"lowcode")

_FAILURES = {
    Outcome.BREAKER_OPEN: (503, "LEGACY_UNAVAILABLE", "the legacy backend is failing; retry later"),
    Outcome.UNREACHABLE: (503, "LEGACY_UNAVAILABLE", "the legacy backend cannot be reached"),
    Outcome.TIMEOUT: (504, "LEGACY_TIMEOUT", "the legacy backend did not answer in time"),
    Outcome.BAD_GATEWAY: (502, "LEGACY_BAD_GATEWAY", "the legacy backend broke the exchange"),
}


class LegacyRouter:
    def __init__(self, app: ASGIApp, routing: Callable[[], Routing | None]) -> None:
        self.app = app
        self.routing = routing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        routing = self.routing()
        legacy = routing.legacy if routing is not None else None
        # A request that already passed through us (the legacy backend handed
        # it back) is served here: sending it on again would loop.
        if routing is None or legacy is None or came_through_us(scope):
            await self.app(scope, receive, _served_by_us(send))
        elif op := await routing.routed_operation(scope):
            # Name the operation for the access log and the HTTP metrics, as
            # Connexion would have had it served the request.
            scope.setdefault("extensions", {})[ROUTING_EXTENSION] = {
                "operation_id": op.operation_id
            }
            await _proxy(legacy, scope, receive, send)
        elif legacy.fallback:
            await _Fallback(self.app, routing, legacy, scope, receive, send).run()
        else:
            await self.app(scope, receive, _served_by_us(send))


def _served_by_us(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), SERVED_BY_US]
        await send(message)

    return wrapped


async def _proxy(legacy: LegacyBackend, scope: Scope, receive: Receive, send: Send) -> None:
    content = stream_body(receive) if has_body(scope) else None
    outcome, status = await legacy.forward(scope, content, receive, send, kind="routed")
    if status is not None:  # the legacy answer went out (perhaps cut short)
        legacy.metrics.proxied.labels(f"{status // 100}xx").inc()
        return
    legacy.metrics.proxied.labels(outcome.value).inc()
    if outcome in _FAILURES:
        status, code, detail = _FAILURES[outcome]
        extra = [(b"retry-after", str(legacy.retry_after_s).encode())] if status == 503 else []
        await send_problem(scope, send, status, code, detail, extra)


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    detail: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    language = next(
        (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept-language"), None
    )
    body = problem_body(
        code=code, status=status, detail=detail, language=preferred_language(language)
    )
    payload = json.dumps(body, ensure_ascii=False).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(payload)).encode()),
        SERVED_BY_US,
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class _Fallback:
    """One request served by our app, replayed to the legacy backend when the
    app fails before its first response byte. The body is kept (up to the
    limit) as the app reads it; the app's 5xx is held back until we know
    whether the replay answers instead."""

    def __init__(
        self,
        app: ASGIApp,
        routing: Routing,
        legacy: LegacyBackend,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        self.app, self.routing, self.legacy = app, routing, legacy
        self.scope, self.receive, self.send = scope, receive, send
        self.method: str = scope["method"]
        self.kept = bytearray()
        self.overflow = False
        self.body_done = False
        self.disconnected = False
        self.held: list[Message] = []
        self.started = False

    async def run(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except Exception:
            if self.started or not self._eligible():
                raise
            log.warning("our handler raised before responding; replaying to the legacy backend")
            if not await self._replay():
                raise
            return
        if self.held and not await self._replay():
            for message in self.held:
                await self._pass(message)

    def _eligible(self) -> bool:
        if self.method not in REPLAYABLE_METHODS and self.method not in KEYED_METHODS:
            return False
        routing = self.scope.get("extensions", {}).get(ROUTING_EXTENSION) or {}
        return bool(self.routing.operations.legacy_tags_of(routing.get("operation_id")))

    async def _receive(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            if not self.overflow:
                chunk = message.get("body", b"")
                if len(self.kept) + len(chunk) > self.legacy.replay_max_bytes:
                    self.overflow, self.kept = True, bytearray()
                else:
                    self.kept += chunk
            self.body_done = not message.get("more_body", False)
        elif message["type"] == "http.disconnect":
            self.disconnected = True
        return message

    async def _send(self, message: Message) -> None:
        # Once a 5xx start is held, the rest of that response is held with it.
        if self.held or (
            message["type"] == "http.response.start"
            and message["status"] >= 500
            and self._eligible()
        ):
            self.held.append(message)
        else:
            await self._pass(message)

    async def _pass(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            message["headers"] = [*message.get("headers", ()), SERVED_BY_US]
        await self.send(message)

    async def _replay(self) -> bool:
        fallbacks = self.legacy.metrics.fallbacks
        body = await self._whole_body()
        if body is None:
            fallbacks.labels("body_too_large").inc()
            return False
        if self.method in KEYED_METHODS and not _has_idempotency_key(self.scope, body):
            fallbacks.labels("not_replayable").inc()
            return False
        outcome, status = await self.legacy.forward(
            self.scope, body, self._receive, self.send, kind="fallback"
        )
        if status is not None:  # the legacy answer went out (perhaps cut short)
            self.started = True
            fallbacks.labels("replayed").inc()
            log.warning(
                "served by the legacy backend after our handler failed",
                extra={"method": self.method, "path": self.scope["path"]},
            )
            return True
        fallbacks.labels(
            "breaker_open" if outcome is Outcome.BREAKER_OPEN else "legacy_failed"
        ).inc()
        return False

    async def _whole_body(self) -> bytes | None:
        """The request body: what the app read plus the rest; None past the limit."""
        while not (self.body_done or self.overflow or self.disconnected):
            await self._receive()
        return None if self.overflow or self.disconnected else bytes(self.kept)


def _has_idempotency_key(scope: Scope, body: bytes) -> bool:
    for name, value in scope.get("headers", []):
        if name.lower() == b"idempotency-key" and value.strip():
            return True
    try:
        document = json.loads(body) if body else None
    except ValueError:
        return False
    op_id = document.get("opId") if isinstance(document, dict) else None
    return isinstance(op_id, str) and op_id != ""
