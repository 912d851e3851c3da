from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lowcode.pages.document import Document, Patch
from lowcode.platform.audit import audit_to_api
from lowcode.platform.errors import AppError, FieldError, Invalid


@dataclass(frozen=True, slots=True)
class PageSummary:
    id: uuid.UUID
    workspace_id: uuid.UUID
    title: str
    version: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_by: uuid.UUID | None
    updated_at: datetime

    def to_api(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "workspace_id": str(self.workspace_id),
            "title": self.title,
            **audit_to_api(self),
        }


@dataclass(frozen=True, slots=True)
class Page:
    summary: PageSummary
    document: Document

    @property
    def version(self) -> int:
        return self.summary.version

    def to_api(self) -> dict[str, Any]:
        return {**self.summary.to_api(), "schema": self.document}


@dataclass(frozen=True, slots=True)
class OpInput:
    """One change: an RFC 6902 patch, the client's id for it (for retries), its
    author, and the version it was written against (None: the head, no rebase)."""

    patch: Patch
    op_id: str
    actor: uuid.UUID
    base_version: int | None = None


@dataclass(frozen=True, slots=True)
class AppliedOp:
    version: int
    op_id: str
    patch: Patch
    actor: uuid.UUID | None
    duplicate: bool = False

    def to_api(self) -> dict[str, Any]:
        return {"version": self.version, "opId": self.op_id, "duplicate": self.duplicate}


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one append produced: the ops written with their versions, the
    document after them and, per input op in order, its outcome — the applied
    op or why it was refused (the others were written all the same)."""

    ops: list[AppliedOp]
    document: Document
    version: int
    snapshot: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    outcomes: list[AppliedOp | AppError] = field(default_factory=list)
    snapshot_due: bool = False  # not written here: the caller writes it (a room, after acking)


@dataclass(frozen=True, slots=True)
class Revision:
    version: int
    reason: str
    created_by: uuid.UUID | None
    created_at: datetime
    document: Document | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "version": self.version,
            "reason": self.reason,
            "created_by": str(self.created_by) if self.created_by else None,
            "created_at": self.created_at.isoformat(),
        }
        if self.document is not None:
            body["schema"] = self.document
        return body


def parse_version_tag(raw: str) -> int:
    """The version in an `If-Match` value such as `"7"` (or `W/"7"`); Invalid
    (400) for anything else — `str.isdigit` alone would pass `"²"`, which `int`
    then refuses. A version beyond any page's never matches: a conflict later."""
    value = raw.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit() and 1 <= len(value) <= 10) or value[0] == "0":
        raise Invalid(
            'If-Match must be a page version such as "7"',
            errors=[FieldError("If-Match", "not a page version", "header")],
        )
    return int(value)
