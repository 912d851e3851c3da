"""User profile and administration use cases."""

from __future__ import annotations

import uuid

from lowcode.events.publish import access_changed
from lowcode.identity.errors import EmailTaken, UserNotFound
from lowcode.identity.models import Actor, User
from lowcode.identity.passwords import hash_password
from lowcode.identity.sessions_cache import revoke_cached, update_cached
from lowcode.platform.db import transaction
from lowcode.platform.errors import Forbidden
from lowcode.platform.pagination import PageOf, PageRequest, fetch_page, search_pattern
from lowcode.resources import Resources
from lowcode.workspaces.errors import LastOwner


async def get_user(res: Resources, user_id: uuid.UUID) -> User:
    async with res.pool.acquire() as conn:
        row = await res.queries.identity.get_user(conn, user_id=user_id)
    if row is None:
        raise UserNotFound(f"no user {user_id}")
    return User.from_row(row)


async def update_display_name(res: Resources, actor: Actor, display_name: str) -> User:
    async with transaction(res.pool) as conn:
        row = await res.queries.identity.update_display_name(
            conn, user_id=actor.user_id, display_name=display_name.strip()
        )
    if row is None:
        raise UserNotFound("the account no longer exists")
    return User.from_row(row)


async def search_users(
    res: Resources,
    *,
    query: str | None,
    role: str | None,
    disabled: bool | None,
    page: PageRequest,
) -> PageOf[User]:
    """Admin listing: substring search over email and display name, filters, pages."""
    pattern = search_pattern(query)
    q = res.queries.identity
    async with res.pool.acquire() as conn:
        return await fetch_page(
            page,
            q.search_users(
                conn,
                query=pattern,
                role=role,
                disabled=disabled,
                limit=page.limit,
                offset=page.offset,
            ),
            User.from_row,
            lambda: q.count_search_users(conn, query=pattern, role=role, disabled=disabled),
        )


async def update_user(
    res: Resources, actor: Actor, user_id: uuid.UUID, *, role: str | None, disabled: bool | None
) -> User:
    """Change a user's global role or disabled flag. Disabling revokes every
    session at once; a role change takes effect on the user's next request."""
    if user_id == actor.user_id and (disabled or (role is not None and role != actor.role)):
        raise Forbidden("admins cannot demote or disable themselves")
    q = res.queries.identity
    async with transaction(res.pool) as conn:
        row = await q.update_role_and_status(conn, user_id=user_id, role=role, disabled=disabled)
        if row is None:
            raise UserNotFound(f"no user {user_id}")
        if disabled:
            affected = [
                r.id
                async for r in q.revoke_user_sessions(
                    conn, user_id=user_id, keep_session_id=None, reason="disabled"
                )
            ]
        else:
            affected = [r.id async for r in q.live_session_ids(conn, user_id=user_id)]
    if disabled:
        await revoke_cached(res, user_id, affected)
    elif not row.disabled:
        await update_cached(res, user_id, row.role, affected)
    if disabled:
        await access_changed(res, users=[user_id])
    return User.from_row(row)


async def delete_user(res: Resources, actor: Actor, user_id: uuid.UUID) -> None:
    """Delete a user with their sessions and memberships — unless a workspace
    would be left without an owner."""
    if user_id == actor.user_id:
        raise Forbidden("admins cannot delete themselves")
    async with transaction(res.pool) as conn:
        if await res.queries.identity.lock_user(conn, user_id=user_id) is None:
            raise UserNotFound(f"no user {user_id}")
        sole = [
            r.workspace_id
            async for r in res.queries.workspaces.sole_owned_workspaces(conn, user_id=user_id)
        ]
        if sole:
            raise LastOwner(
                f"the user is the only owner of {len(sole)} workspace(s); transfer ownership first",
                workspaces=[str(w) for w in sole],
            )
        sessions = [
            r.id async for r in res.queries.identity.live_session_ids(conn, user_id=user_id)
        ]
        await res.queries.identity.delete_user(conn, user_id=user_id)
    await revoke_cached(res, user_id, sessions)
    await access_changed(res, users=[user_id])


async def create_admin(
    res: Resources, *, email: str, password: str, display_name: str, promote: bool
) -> tuple[User, str]:
    """The first admin (CLI). Returns the user and what happened:
    `created`, `promoted` or `unchanged` (already an admin)."""
    q = res.queries.identity
    async with transaction(res.pool) as conn:
        existing = await q.get_user_by_email(conn, email=email.strip())
        if existing is not None:
            if existing.role == "admin":
                return User.from_row(existing), "unchanged"
            user: User
            if not promote:
                raise EmailTaken(
                    f"{email} exists with role {existing.role}; pass --promote to make it an admin"
                )
            promoted = await q.update_role_and_status(
                conn, user_id=existing.id, role="admin", disabled=None
            )
            assert promoted is not None
            user = User.from_row(promoted)
            sessions = [r.id async for r in q.live_session_ids(conn, user_id=existing.id)]
            outcome = "promoted"
        else:
            # Registered concurrently: EMAIL_TAKEN (identity/errors.py).
            row = await q.insert_user(
                conn,
                email=email.strip(),
                password_hash=await hash_password(password),
                display_name=display_name,
                role="admin",
            )
            user = User.from_row(row)
            sessions, outcome = [], "created"
    await update_cached(res, user.id, "admin", sessions)
    return user, outcome
