from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from lowcode.platform.audit import Audited, audit_to_api


class _DatasetRow(Audited, Protocol):
    """The generated rows this model is built from (several queries return it)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def workspace_id(self) -> uuid.UUID: ...
    @property
    def datasource_id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def sql(self) -> str: ...
    @property
    def columns(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Dataset:
    id: uuid.UUID
    workspace_id: uuid.UUID
    datasource_id: uuid.UUID
    name: str
    description: str
    sql: str
    columns: list[dict[str, str]]
    version: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_by: uuid.UUID | None
    updated_at: datetime

    @classmethod
    def from_row(cls, r: _DatasetRow) -> Dataset:
        return cls(
            r.id, r.workspace_id, r.datasource_id, r.name, r.description, r.sql,
            list(r.columns or []), r.version, r.created_by, r.created_at, r.updated_by,
            r.updated_at,
        )  # fmt: skip

    def to_api(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "workspace_id": str(self.workspace_id),
            "datasource_id": str(self.datasource_id),
            "name": self.name,
            "description": self.description,
            "sql": self.sql,
            "columns": self.columns,
            **audit_to_api(self),
        }


@dataclass(frozen=True, slots=True)
class PreviewColumn:
    name: str
    type: str  # the datasource's type name, e.g. int4, numeric, timestamptz, int4[]
    json_type: str  # how values are encoded: integer, number, string, boolean, json, array

    def to_api(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "json_type": self.json_type}


@dataclass(frozen=True, slots=True)
class Preview:
    columns: list[PreviewColumn]
    rows: list[list[Any]]
    limit: int
    has_more: bool
    truncated: bool  # the byte cap cut the rows short
    elapsed_ms: float

    def to_api(self) -> dict[str, Any]:
        return {
            "columns": [c.to_api() for c in self.columns],
            "rows": self.rows,
            "row_count": len(self.rows),
            "limit": self.limit,
            "has_more": self.has_more,
            "truncated": self.truncated,
            "elapsed_ms": self.elapsed_ms,
        }
