"""Who an access token speaks for, for HTTP (`security.bearer_info`) and both
WebSockets (`security.websocket_user`) alike; and whether a session still
stands, asked of Postgres for sockets already open.
"""

from __future__ import annotations

import uuid

from lowcode.identity.errors import SessionRevoked, TokenInvalid
from lowcode.identity.models import Actor
from lowcode.identity.sessions_cache import is_live, session_state
from lowcode.resources import Resources


async def authenticate(res: Resources, token: str) -> Actor:
    """The caller of a valid access token whose session is live.

    Both steps are cached per process because every request takes them: a
    verified token is remembered (`tokens.TokenService.decode_access`), and a
    session's state is held locally, then in Redis, before Postgres
    (`sessions_cache`). Raises TokenExpired or TokenInvalid for the token,
    TokenInvalid for a session that does not exist or is another user's, and
    SessionRevoked for one revoked, expired or of a disabled user."""
    claims = res.tokens.decode_access(token)
    state = await session_state(res, claims.session_id)
    if state is None or state.user_id != claims.user_id:
        raise TokenInvalid("the access token's session does not exist")
    if not state.active:
        raise SessionRevoked("this session was revoked or the account disabled; log in again")
    return Actor(state.user_id, claims.session_id, state.role, claims.expires_at)


async def session_live(res: Resources, session_id: uuid.UUID) -> bool:
    """Is the session still live? Asked of Postgres (the truth, never a cache)
    by sockets not tied to a page (`/ws/events`) when access may have changed."""
    async with res.pool.acquire() as conn:
        row = await res.queries.identity.get_session_state(conn, session_id=session_id)
    return row is not None and is_live(row)
