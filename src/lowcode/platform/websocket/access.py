"""The token a socket offers, and how its access ends: the close codes both
sockets send when their session ends or their access token expires.

Browsers cannot set headers on a WebSocket handshake, so the access token
comes as a subprotocol `bearer.<token>` offered with `lowcode.v1` (which the
server selects), or as the `access_token` query parameter (AsyncAPI document).
"""

from __future__ import annotations

import asyncio
import time

from starlette.websockets import WebSocket

from lowcode.platform.websocket.connection import Connection

SUBPROTOCOL = "lowcode.v1"
BEARER_PREFIX = "bearer."

SESSION_ENDED = (4401, "the session has ended; log in again")
TOKEN_EXPIRED = (4401, "access token expired; reconnect with a fresh one")


def offered_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """(token, subprotocol to select): from `bearer.<token>` subprotocol or the query."""
    offered = websocket.scope.get("subprotocols") or []
    chosen = SUBPROTOCOL if SUBPROTOCOL in offered else None
    for proto in offered:
        if proto.startswith(BEARER_PREFIX):
            return proto[len(BEARER_PREFIX) :], chosen
    return websocket.query_params.get("access_token"), chosen


def close_at_expiry(expires_at: int, conn: Connection) -> asyncio.TimerHandle:
    """Close `conn` with 4401 when the access token it was opened with
    expires (`expires_at`: the token's `exp`, Unix seconds)."""
    loop = asyncio.get_running_loop()
    delay = max(0.0, expires_at - time.time())
    return loop.call_later(delay, conn.close, *TOKEN_EXPIRED)
