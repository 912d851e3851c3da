from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lowcode_gen.queries.identity import PublicUserRow, UserRow


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: the authenticated user, their session and global role."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    # The access token's `exp` (Unix seconds) when authenticated from one
    # (`identity.authenticate`): an open socket closes then. None when rebuilt
    # from Connexion's token_info, where the request ends long before.
    expires_at: int | None = None

    @classmethod
    def from_token_info(cls, token_info: dict[str, Any]) -> Actor:
        return cls(uuid.UUID(token_info["sub"]), uuid.UUID(token_info["sid"]), token_info["role"])

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


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
    def from_row(cls, row: PublicUserRow | UserRow) -> User:
        return cls(
            row.id,
            row.email,
            row.display_name,
            row.role,
            row.disabled,
            row.created_at,
            row.updated_at,
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


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID

    def to_api(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "session_id": str(self.session_id),
        }


@dataclass(frozen=True, slots=True)
class Session:
    id: uuid.UUID
    user_agent: str | None
    ip: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool

    def to_api(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "user_agent": self.user_agent,
            "ip": self.ip,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "current": self.current,
        }
