"""In-process serving of the app the way an ASGI server does it.

The lifespan yields the app's state (resources, hub, event bus); a server
gives every request and socket a shallow copy of it. httpx's ASGITransport and
a uvicorn started with `lifespan="off"` (the lifespan runs under
asgi-lifespan's LifespanManager) do not, and LifespanManager's own `.app`
hands every request the same dict, so per-request entries (the body guard's
refusal, the parsed body) would leak from one request into the next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from lowcode.app import LowcodeApp


def with_state(app: LowcodeApp) -> ASGIApp:
    """`app`, each scope carrying a shallow copy of its started lifespan's state."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "state": dict(app.state)}
        await app(scope, receive, send)

    return serve
