from __future__ import annotations

from lowcode.platform.db import ConstraintErrors
from lowcode.platform.errors import Conflict, NotFound


class WorkspaceNotFound(NotFound):
    """Also what non-members get, so a workspace's existence does not leak."""

    code = "WORKSPACE_NOT_FOUND"


class MemberNotFound(NotFound):
    code = "MEMBER_NOT_FOUND"


class LastOwner(Conflict):
    code = "LAST_OWNER"


class AlreadyMember(Conflict):
    code = "ALREADY_MEMBER"


# What the constraints of `queries/workspaces/` mean (see `platform.db`).
CONSTRAINT_ERRORS: ConstraintErrors = {
    "workspace_members_pkey": lambda e, p: AlreadyMember("that user is already a member"),
}
