"""The audit fields every editable resource carries (`version` for optimistic
locking, who created and last changed it, and when), in their API form."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol


class Audited(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def created_by(self) -> uuid.UUID | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_by(self) -> uuid.UUID | None: ...
    @property
    def updated_at(self) -> datetime: ...


def audit_to_api(m: Audited) -> dict[str, Any]:
    return {
        "version": m.version,
        "created_by": str(m.created_by) if m.created_by else None,
        "created_at": m.created_at.isoformat(),
        "updated_by": str(m.updated_by) if m.updated_by else None,
        "updated_at": m.updated_at.isoformat(),
    }
