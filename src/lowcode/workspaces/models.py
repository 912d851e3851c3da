from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lowcode_gen.queries.workspaces import MembershipRow, WorkspaceRow

# Workspace roles, weakest first.
ROLES = ("viewer", "editor", "owner")


def role_at_least(role: str, minimum: str) -> bool:
    return ROLES.index(role) >= ROLES.index(minimum)


@dataclass(frozen=True, slots=True)
class Workspace:
    id: uuid.UUID
    name: str
    description: str
    version: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    my_role: str

    @classmethod
    def from_row(cls, row: WorkspaceRow | MembershipRow, my_role: str) -> Workspace:
        return cls(
            row.id, row.name, row.description, row.version, row.created_by,
            row.created_at, row.updated_at, my_role,
        )  # fmt: skip

    def to_api(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "created_by": str(self.created_by) if self.created_by else None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "my_role": self.my_role,
        }


@dataclass(frozen=True, slots=True)
class Member:
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    created_at: datetime
    updated_at: datetime

    def to_api(self) -> dict[str, Any]:
        return {
            "user_id": str(self.user_id),
            "email": self.email,
            "display_name": self.display_name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
