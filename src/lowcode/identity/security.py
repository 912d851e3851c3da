"""The Connexion security handler (`x-bearerInfoFunc`) for `bearerAuth`.

Validates the access token, then its session (revoked sessions and disabled
users end access at once), then the global role the operation declares as its
security scopes (`[admin]`). The caller's id goes to the access log.
"""

from __future__ import annotations

import logging
from typing import Any

from connexion.lifecycle import ConnexionRequest

from lowcode.identity.errors import SessionRevoked, TokenInvalid
from lowcode.identity.sessions_cache import session_state
from lowcode.platform.access_log import ROUTING_EXTENSION
from lowcode.platform.errors import Forbidden
from lowcode.platform.request_context import STATE_KEY, RequestState
from lowcode.resources import STATE_OPERATION_SCOPES, from_request

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
    res = from_request(request)
    claims = res.tokens.decode_access(token)
    state = await session_state(res, claims.session_id)
    if state is None or state.user_id != claims.user_id:
        raise TokenInvalid("the access token's session does not exist")
    if not state.active:
        raise SessionRevoked("this session was revoked or the account disabled; log in again")
    request_state = request.scope.get("state", {}).get(STATE_KEY)
    if isinstance(request_state, RequestState):
        request_state.user_id = str(state.user_id)
    scopes = ROLE_SCOPES.get(state.role, frozenset())
    missing = (set(required_scopes or []) | _declared_scopes(request)) - scopes
    if missing:
        raise Forbidden(f"requires the {', '.join(sorted(missing))} role")
    return {
        "sub": str(state.user_id),
        "sid": str(claims.session_id),
        "role": state.role,
        "scope": sorted(scopes),
    }
