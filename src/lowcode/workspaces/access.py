"""Workspace role checks, used by every context whose resources live in a workspace."""

from __future__ import annotations

import uuid

from lowcode.identity.models import Actor
from lowcode.platform.db import Connection
from lowcode.platform.errors import Forbidden
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
