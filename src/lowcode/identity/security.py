"""Authentication at the edges: the Connexion security handler
(`x-bearerInfoFunc`) for `bearerAuth`, and the handshake of both WebSockets.

Both validate the access token, then its session (revoked sessions and
disabled users end access at once): `authenticate`. HTTP then checks the
global role the operation declares as its security scopes (`[admin]`). The
caller's id goes to the access log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from connexion.lifecycle import ConnexionRequest
from starlette.exceptions import WebSocketException
from starlette.types import Scope
from starlette.websockets import WebSocket

from lowcode.identity.authenticate import authenticate
from lowcode.identity.errors import TokenInvalid
from lowcode.identity.models import Actor
from lowcode.platform.access_log import ROUTING_EXTENSION
from lowcode.platform.errors import AppError, Forbidden
from lowcode.platform.request_context import STATE_KEY, RequestState
from lowcode.platform.websocket.access import offered_token
from lowcode.resources import STATE_OPERATION_SCOPES, Resources, from_request

log = logging.getLogger("lowcode.identity.security")

# A global role grants these scopes; operations list the scope they need.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "user": frozenset({"user"}),
    "admin": frozenset({"user", "admin"}),
}


def _declared_scopes(request: ConnexionRequest) -> set[str]:
    """The operation's scopes. An operation this handler cannot identify is
    refused (fail closed): a routing change in Connexion must never turn
    `[admin]` operations into ones anybody may call."""
    routing = request.scope.get("extensions", {}).get(ROUTING_EXTENSION) or {}
    by_operation = request.scope.get("state", {}).get(STATE_OPERATION_SCOPES, {})
    scopes = by_operation.get(routing.get("operation_id"))
    if scopes is None:
        log.error("security handler could not identify the operation; refused")
        raise Forbidden("this operation could not be authorised")
    return set(scopes)


async def bearer_info(
    token: str, required_scopes: list[str] | None = None, request: ConnexionRequest | None = None
) -> dict[str, Any]:
    assert request is not None
    actor = await authenticate(from_request(request), token)
    _log_user(request.scope, actor)
    scopes = ROLE_SCOPES.get(actor.role, frozenset())
    missing = (set(required_scopes or []) | _declared_scopes(request)) - scopes
    if missing:
        raise Forbidden(f"requires the {', '.join(sorted(missing))} role")
    return {
        "sub": str(actor.user_id),
        "sid": str(actor.session_id),
        "role": actor.role,
        "scope": sorted(scopes),
    }


@dataclass(frozen=True, slots=True)
class SocketUser:
    actor: Actor
    name: str  # shown to the others in a room
    expires_at: int  # the access token's `exp` (Unix seconds): the socket closes then


async def websocket_user(res: Resources, websocket: WebSocket) -> SocketUser:
    """Accept the socket and return who it is; close it with 4401 (raised as
    WebSocketException) when its token does not stand. Accepted first, so
    the client sees the close code rather than a failed handshake."""
    token, subprotocol = offered_token(websocket)
    await websocket.accept(subprotocol=subprotocol)
    try:
        if not token:
            raise TokenInvalid("no access token")
        actor = await authenticate(res, token)
    except AppError as e:
        raise WebSocketException(4401, "invalid or missing access token") from e
    async with res.pool.acquire() as conn:
        user = await res.queries.identity.get_user(conn, user_id=actor.user_id)
    if user is None:
        raise WebSocketException(4401, "unknown user")
    _log_user(websocket.scope, actor)
    assert actor.expires_at is not None  # `authenticate` read it from the token
    return SocketUser(actor, user.display_name, actor.expires_at)


def _log_user(scope: Scope, actor: Actor) -> None:
    """The caller's id, for the access log's lines."""
    request_state = scope.get("state", {}).get(STATE_KEY)
    if isinstance(request_state, RequestState):
        request_state.user_id = str(actor.user_id)
