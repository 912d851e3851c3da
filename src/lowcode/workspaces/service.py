"""Workspace and membership use cases."""

from __future__ import annotations

import uuid

from lowcode.events.publish import access_changed, notify_user
from lowcode.identity.errors import UserNotFound
from lowcode.identity.models import Actor
from lowcode.platform.db import Connection, transaction
from lowcode.platform.errors import Invalid, VersionConflict
from lowcode.platform.pagination import PageOf, PageRequest, fetch_page
from lowcode.resources import Resources
from lowcode.workspaces.access import require_role
from lowcode.workspaces.errors import AlreadyMember, LastOwner, MemberNotFound
from lowcode.workspaces.models import Member, Workspace
from lowcode_gen.queries.workspaces import MemberRow


async def list_workspaces(res: Resources, actor: Actor, page: PageRequest) -> PageOf[Workspace]:
    q = res.queries.workspaces
    async with res.pool.acquire() as conn:
        return await fetch_page(
            page,
            q.list_workspaces_of_user(
                conn, user_id=actor.user_id, limit=page.limit, offset=page.offset
            ),
            lambda r: Workspace.from_row(r, r.my_role),
            lambda: q.count_workspaces_of_user(conn, user_id=actor.user_id),
        )


async def create_workspace(
    res: Resources, actor: Actor, *, name: str, description: str
) -> Workspace:
    """Create a workspace; the creator becomes its owner."""
    q = res.queries.workspaces
    async with transaction(res.pool) as conn:
        row = await q.insert_workspace(
            conn, name=name.strip(), description=description, created_by=actor.user_id
        )
        await q.insert_member(conn, workspace_id=row.id, user_id=actor.user_id, role="owner")
    return Workspace.from_row(row, "owner")


async def get_workspace(res: Resources, actor: Actor, workspace_id: uuid.UUID) -> Workspace:
    async with res.pool.acquire() as conn:
        return await require_role(res, conn, actor, workspace_id, "viewer")


async def update_workspace(
    res: Resources,
    actor: Actor,
    workspace_id: uuid.UUID,
    *,
    name: str | None,
    description: str | None,
    expected_version: int | None,
) -> Workspace:
    """Rename or describe (owners). With `expected_version`, a stale write is a
    VERSION_CONFLICT instead of silently winning."""
    q = res.queries.workspaces
    async with transaction(res.pool) as conn:
        current = await require_role(res, conn, actor, workspace_id, "owner")
        row = await q.update_workspace(
            conn,
            workspace_id=workspace_id,
            name=name.strip() if name is not None else None,
            description=description,
            expected_version=expected_version,
        )
        if row is None:
            version = await q.get_workspace_version(conn, workspace_id=workspace_id)
            raise VersionConflict(version)
    return Workspace.from_row(row, current.my_role)


async def delete_workspace(res: Resources, actor: Actor, workspace_id: uuid.UUID) -> None:
    async with transaction(res.pool) as conn:
        await require_role(res, conn, actor, workspace_id, "owner")
        await res.queries.workspaces.delete_workspace(conn, workspace_id=workspace_id)
    # Rooms of its pages close their sockets (4404) on every node.
    await access_changed(res, workspaces=[workspace_id])


def _member(r: MemberRow | None) -> Member:
    assert r is not None
    return Member(r.user_id, r.email, r.display_name, r.role, r.created_at, r.updated_at)


async def list_members(
    res: Resources, actor: Actor, workspace_id: uuid.UUID, page: PageRequest
) -> PageOf[Member]:
    q = res.queries.workspaces
    async with res.pool.acquire() as conn:
        await require_role(res, conn, actor, workspace_id, "viewer")
        return await fetch_page(
            page,
            q.list_members(conn, workspace_id=workspace_id, limit=page.limit, offset=page.offset),
            _member,
            lambda: q.count_members(conn, workspace_id=workspace_id),
        )


async def add_member_by_email(
    res: Resources, actor: Actor, workspace_id: uuid.UUID, *, email: str, role: str
) -> None:
    """Owners add a user named by email. The answer is the same whether or not
    an account has that email, and whether or not it is a member already, so
    this cannot be used to find out who has an account; a user found is added
    (and notified). Rate-limited per owner like every add."""
    await res.limiter.hit(res.settings.rate_limit_add_member, "add-member", str(actor.user_id))
    async with res.pool.acquire() as conn:
        await require_role(res, conn, actor, workspace_id, "owner")
        user = await res.queries.identity.get_user_by_email(conn, email=email.strip())
    if user is None:
        return
    try:
        await add_member(res, actor, workspace_id, user_id=user.id, email=None, role=role)
    except AlreadyMember:
        return


async def add_member(
    res: Resources,
    actor: Actor,
    workspace_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    email: str | None,
    role: str,
) -> Member:
    """Owners add an existing user, named by id, with a role (by email:
    `add_member_by_email`)."""
    if (user_id is None) == (email is None):
        raise Invalid("give exactly one of user_id and email")
    if user_id is None:
        raise Invalid("add members named by email with add_member_by_email")
    q = res.queries.workspaces
    async with transaction(res.pool) as conn:
        await require_role(res, conn, actor, workspace_id, "owner")
        if await res.queries.identity.get_user(conn, user_id=user_id) is None:
            raise UserNotFound(f"no user {user_id}")
        # A member already: ALREADY_MEMBER (workspaces/errors.py).
        await q.insert_member(conn, workspace_id=workspace_id, user_id=user_id, role=role)
        row = await q.get_member(conn, workspace_id=workspace_id, user_id=user_id)
    await _membership_changed(res, workspace_id, user_id, "added", role)
    return _member(row)


async def _membership_changed(
    res: Resources, workspace_id: uuid.UUID, user_id: uuid.UUID, change: str, role: str | None
) -> None:
    """Tell the member's open `/ws/events` sockets (any node), and have their
    open page sockets re-check their access (4403 or read-only); after the commit."""
    await access_changed(res, users=[user_id])
    await notify_user(
        res,
        user_id,
        "membership-changed",
        {"workspaceId": str(workspace_id), "change": change, "role": role},
    )


async def _ensure_another_owner(
    res: Resources, conn: Connection, workspace_id: uuid.UUID, leaving: uuid.UUID
) -> None:
    owners = [
        r.user_id async for r in res.queries.workspaces.lock_owners(conn, workspace_id=workspace_id)
    ]
    if leaving in owners and len(owners) == 1:
        raise LastOwner("a workspace must keep at least one owner")


async def change_member_role(
    res: Resources, actor: Actor, workspace_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> Member:
    q = res.queries.workspaces
    async with transaction(res.pool) as conn:
        await require_role(res, conn, actor, workspace_id, "owner")
        if role != "owner":
            await _ensure_another_owner(res, conn, workspace_id, user_id)
        if not await q.update_member_role(
            conn, workspace_id=workspace_id, user_id=user_id, role=role
        ):
            raise MemberNotFound(f"{user_id} is not a member")
        row = await q.get_member(conn, workspace_id=workspace_id, user_id=user_id)
    await _membership_changed(res, workspace_id, user_id, "role-changed", role)
    return _member(row)


async def remove_member(
    res: Resources, actor: Actor, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Owners remove anyone; any member may remove (leave) themselves."""
    minimum = "viewer" if user_id == actor.user_id else "owner"
    async with transaction(res.pool) as conn:
        await require_role(res, conn, actor, workspace_id, minimum)
        await _ensure_another_owner(res, conn, workspace_id, user_id)
        if not await res.queries.workspaces.delete_member(
            conn, workspace_id=workspace_id, user_id=user_id
        ):
            raise MemberNotFound(f"{user_id} is not a member")
    await _membership_changed(res, workspace_id, user_id, "removed", None)
