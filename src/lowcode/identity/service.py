"""Authentication use cases: register, login, refresh, logout, sessions, password.

Each function owns its transaction. Cached session state is dropped only after
the transaction that changed it has committed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lowcode.events.publish import access_changed
from lowcode.identity.errors import (
    AccountDisabled,
    InvalidCredentials,
    SessionNotFound,
    SessionRevoked,
    TokenExpired,
    TokenInvalid,
    UserNotFound,
)
from lowcode.identity.models import Actor, Session, TokenPair, User
from lowcode.identity.passwords import hash_password, needs_rehash, verify_password
from lowcode.identity.sessions_cache import revoke_cached
from lowcode.identity.tokens import hash_refresh_token, new_refresh_token
from lowcode.platform.db import Connection, transaction
from lowcode.platform.pagination import PageOf, PageRequest
from lowcode.platform.ratelimit import client_bucket
from lowcode.resources import Resources
from lowcode_gen.queries.identity import GetSessionStateRow

log = logging.getLogger("lowcode.identity")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


async def register_user(
    res: Resources, *, email: str, password: str, display_name: str, client: ClientInfo
) -> User:
    """Create a `user`-role account; the email must be new in any letter case."""
    email = email.strip()
    await res.limiter.hit(
        res.settings.rate_limit_register_ip, "register", "ip", client_bucket(client.ip)
    )
    await res.limiter.hit(res.settings.rate_limit_register_email, "register", email.lower())
    password_hash = await hash_password(password)
    async with transaction(res.pool) as conn:
        # A taken email (in any case) raises EMAIL_TAKEN (identity/errors.py).
        row = await res.queries.identity.insert_user(
            conn,
            email=email,
            password_hash=password_hash,
            display_name=display_name.strip(),
            role="user",
        )
    return User.from_row(row)


async def login(res: Resources, *, email: str, password: str, client: ClientInfo) -> TokenPair:
    """Check the password and open a session: an access token plus a refresh token."""
    email = email.strip()
    await res.limiter.hit(res.settings.rate_limit_login_ip, "login", "ip", client_bucket(client.ip))
    # Per email, only failures count: a victim's successful logins never lock
    # them out, and a guesser still gets only so many tries at one account.
    await res.limiter.check(res.settings.rate_limit_login_email, "login", email.lower())
    async with res.pool.acquire() as conn:
        user = await res.queries.identity.get_user_by_email(conn, email=email)
    # Verify against something even for unknown emails so timing reveals nothing.
    if not await verify_password(user.password_hash if user else None, password) or not user:
        await res.limiter.hit(res.settings.rate_limit_login_email, "login", email.lower())
        raise InvalidCredentials("wrong email or password")
    if user.disabled:
        raise AccountDisabled("this account is disabled")
    async with transaction(res.pool) as conn:
        pair = await _open_session(res, conn, user_id=user.id, role=user.role, client=client)
        if needs_rehash(user.password_hash):
            await res.queries.identity.update_password_hash(
                conn, user_id=user.id, password_hash=await hash_password(password)
            )
    return pair


async def _open_session(
    res: Resources, conn: Connection, *, user_id: uuid.UUID, role: str, client: ClientInfo
) -> TokenPair:
    expires_at = datetime.now(UTC) + timedelta(seconds=res.settings.refresh_token_ttl_s)
    session_id = await res.queries.identity.insert_session(
        conn,
        user_id=user_id,
        user_agent=(client.user_agent or "")[:512] or None,
        ip=(client.ip or "")[:64] or None,
        expires_at=expires_at,
    )
    token, digest = new_refresh_token()
    await res.queries.identity.insert_refresh_token(
        conn, session_id=session_id, parent_id=None, token_hash=digest
    )
    access = res.tokens.issue_access(user_id=user_id, session_id=session_id, role=role)
    return TokenPair(access, token, res.settings.access_token_ttl_s, session_id)


async def refresh(res: Resources, *, refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair (rotation).

    A token presented a second time is reuse, and revokes the whole session —
    unless it comes within `REFRESH_REUSE_INTERVAL_S` of the rotation (two
    tabs refreshing at once): that caller gets the same successor token (and
    a fresh access token of the same session), so every tab carries on with
    one token family."""
    digest = hash_refresh_token(refresh_token)
    async with transaction(res.pool) as conn:
        q = res.queries.identity
        claimed = await q.claim_refresh_token(conn, token_hash=digest)
        if claimed is not None:
            state = await _live_session(res, conn, claimed.session_id)
            token = res.tokens.successor_refresh_token(refresh_token)
            await q.insert_refresh_token(
                conn,
                session_id=claimed.session_id,
                parent_id=claimed.id,
                token_hash=hash_refresh_token(token),
            )
            await q.touch_session(conn, session_id=claimed.session_id)
            return _pair(res, state, token)
    # Not claimable: unknown, or already used. Used moments ago by another tab
    # of this client: the same successor. Otherwise the token leaked (or a
    # client raced itself long after): the family can no longer be trusted.
    if res.settings.refresh_reuse_interval_s > 0:
        successor = res.tokens.successor_refresh_token(refresh_token)
        async with transaction(res.pool) as conn:
            recent = await res.queries.identity.find_recent_successor(
                conn,
                parent_hash=digest,
                successor_hash=hash_refresh_token(successor),
                reuse_interval_s=float(res.settings.refresh_reuse_interval_s),
            )
            if recent is not None:
                state = await _live_session(res, conn, recent.session_id)
                log.info(
                    "refresh token reused within the reuse interval; same successor",
                    extra={"session_id": str(recent.session_id)},
                )
                return _pair(res, state, successor)
    async with transaction(res.pool) as conn:
        found = await res.queries.identity.find_refresh_token(conn, token_hash=digest)
        if found is None:
            raise TokenInvalid("unknown refresh token")
        revoked = await res.queries.identity.get_session_state(conn, session_id=found.session_id)
        await res.queries.identity.revoke_session(
            conn, session_id=found.session_id, reason="refresh_token_reuse"
        )
    if revoked is not None:
        await revoke_cached(res, revoked.user_id, [found.session_id])
        await access_changed(res, users=[revoked.user_id])
    log.warning("refresh token reuse; session revoked", extra={"session_id": str(found.session_id)})
    raise SessionRevoked("this refresh token was already used; the session has been revoked")


async def _live_session(
    res: Resources, conn: Connection, session_id: uuid.UUID
) -> GetSessionStateRow:
    """The session's state, or the error that says why it cannot be refreshed."""
    state = await res.queries.identity.get_session_state(conn, session_id=session_id)
    assert state is not None
    if state.revoked_at is not None or state.disabled:
        raise SessionRevoked("this session was revoked; log in again")
    if state.expires_at <= datetime.now(UTC):
        raise TokenExpired("the session has expired; log in again")
    return state


def _pair(res: Resources, state: GetSessionStateRow, refresh_token: str) -> TokenPair:
    access = res.tokens.issue_access(user_id=state.user_id, session_id=state.id, role=state.role)
    return TokenPair(access, refresh_token, res.settings.access_token_ttl_s, state.id)


async def logout(res: Resources, *, refresh_token: str) -> None:
    """End the session the refresh token belongs to. Unknown tokens are ignored,
    so logout is idempotent and reveals nothing."""
    digest = hash_refresh_token(refresh_token)
    async with transaction(res.pool) as conn:
        found = await res.queries.identity.find_refresh_token(conn, token_hash=digest)
        if found is None:
            return
        state = await res.queries.identity.get_session_state(conn, session_id=found.session_id)
        await res.queries.identity.revoke_session(
            conn, session_id=found.session_id, reason="logout"
        )
    if state is not None:
        await revoke_cached(res, state.user_id, [found.session_id])
        await access_changed(res, users=[state.user_id])


async def list_sessions(res: Resources, actor: Actor, page: PageRequest) -> PageOf[Session]:
    async with res.pool.acquire() as conn:
        q = res.queries.identity
        rows = [
            r
            async for r in q.list_live_sessions(
                conn, user_id=actor.user_id, limit=page.limit, offset=page.offset
            )
        ]
        total = await q.count_live_sessions(conn, user_id=actor.user_id)
    items = [
        Session(
            r.id,
            r.user_agent,
            r.ip,
            r.created_at,
            r.last_used_at,
            r.expires_at,
            current=r.id == actor.session_id,
        )
        for r in rows
    ]
    return PageOf(items, page, total)


async def revoke_own_session(res: Resources, actor: Actor, session_id: uuid.UUID) -> None:
    """Revoke one of the caller's sessions; others' sessions are not found."""
    async with transaction(res.pool) as conn:
        state = await res.queries.identity.get_session_state(conn, session_id=session_id)
        if state is None or state.user_id != actor.user_id:
            raise SessionNotFound(f"no session {session_id}")
        await res.queries.identity.revoke_session(conn, session_id=session_id, reason="revoked")
    await revoke_cached(res, actor.user_id, [session_id])
    await access_changed(res, users=[actor.user_id])


async def change_password(
    res: Resources, actor: Actor, *, current_password: str, new_password: str
) -> None:
    """Replace the password and revoke every other session of the user. Wrong
    current passwords are limited per user like logins per email: a stolen
    access token must not become an unlimited password oracle."""
    limit = res.settings.rate_limit_login_email
    await res.limiter.check(limit, "password", str(actor.user_id))
    async with res.pool.acquire() as conn:
        stored = await res.queries.identity.get_password_hash(conn, user_id=actor.user_id)
    if stored is None:
        raise UserNotFound("the account no longer exists")
    if not await verify_password(stored, current_password):
        await res.limiter.hit(limit, "password", str(actor.user_id))
        raise InvalidCredentials("the current password is wrong")
    new_hash = await hash_password(new_password)
    async with transaction(res.pool) as conn:
        await res.queries.identity.update_password_hash(
            conn, user_id=actor.user_id, password_hash=new_hash
        )
        revoked = [
            r.id
            async for r in res.queries.identity.revoke_user_sessions(
                conn,
                user_id=actor.user_id,
                keep_session_id=actor.session_id,
                reason="password_changed",
            )
        ]
    await revoke_cached(res, actor.user_id, revoked)
    await access_changed(res, users=[actor.user_id])
