from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lowcode_gen.queries.identity import GetUserRow, InsertUserRow


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    email: str
    display_name: str
    role: str
    disabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: InsertUserRow | GetUserRow) -> User:
        return cls(
            id=row.id,
            email=row.email,
            display_name=row.display_name,
            role=row.role,
            disabled=row.disabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "email": self.email,
            "display_name": self.display_name,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
