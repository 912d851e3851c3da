"""Trusted proxies (`FORWARDED_ALLOW_IPS`): the client address every layer sees.

uvicorn's `ProxyHeadersMiddleware` replaces the scope's client with the one a
trusted peer names in `X-Forwarded-For` (and the scheme with its
`X-Forwarded-Proto`); anyone else's headers are ignored. The peer itself is
kept under `PEER_KEY` for the legacy proxy, which appends it as the next hop.
Handled in the app, not by uvicorn's `proxy_headers`, so tests and every
server see the same rule.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

log = logging.getLogger("lowcode.proxies")

PEER_KEY = "lowcode.peer"


class TrustedProxies:
    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        if "*" in trusted:
            log.warning("FORWARDED_ALLOW_IPS=*: any client can claim any address")
        self._inner = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[PEER_KEY] = scope.get("client")
        await self._inner(cast(Any, scope), cast(Any, receive), cast(Any, send))
