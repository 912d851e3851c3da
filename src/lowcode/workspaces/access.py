"""Workspace role checks, used by every context whose resources live in a workspace."""

from __future__ import annotations

import uuid
from typing import Protocol, TypeVar

from lowcode.identity.models import Actor
from lowcode.platform.db import Connection
from lowcode.platform.errors import AppError, Forbidden
from lowcode.resources import Resources
from lowcode.workspaces.errors import WorkspaceNotFound
from lowcode.workspaces.models import Workspace, role_at_least


async def require_role(
    res: Resources, conn: Connection, actor: Actor, workspace_id: uuid.UUID, minimum: str
) -> Workspace:
    """The workspace as the actor sees it. Non-members get WORKSPACE_NOT_FOUND
    (404, never 403, so existence does not leak); members below `minimum` get 403."""
    row = await res.queries.workspaces.get_membership(
        conn, workspace_id=workspace_id, user_id=actor.user_id
    )
    if row is None:
        raise WorkspaceNotFound(f"no workspace {workspace_id}")
    if not role_at_least(row.my_role, minimum):
        raise Forbidden(f"requires the {minimum} role in this workspace (you are {row.my_role})")
    return Workspace.from_row(row, row.my_role)


class MemberRow(Protocol):
    """A row of a workspace resource read for one user (`…_for_member` queries):
    `my_role` is that user's role in the resource's workspace, None for non-members."""

    @property
    def my_role(self) -> str | None: ...


Row = TypeVar("Row", bound=MemberRow)


def require_member_role(
    row: Row | None, minimum: str, not_found: type[AppError], what: str, key: uuid.UUID
) -> Row:
    """The row if its reader's role is at least `minimum`. A resource that does
    not exist and one in a workspace the reader is not in are the same 404
    (`not_found`), so existence does not leak; members below `minimum` get 403."""
    if row is None or row.my_role is None:
        raise not_found(f"no {what} {key}")
    if not role_at_least(row.my_role, minimum):
        raise Forbidden(f"requires the {minimum} role in this workspace (you are {row.my_role})")
    return row
