from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class _DatasourceRow(Protocol):
    """What every generated datasource row has in common (no password in any)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def workspace_id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def database(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def ssl_mode(self) -> str: ...
    @property
    def has_password(self) -> bool: ...
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


@dataclass(frozen=True, slots=True)
class Datasource:
    """A datasource as members see it: everything but the password."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    description: str
    kind: str
    host: str
    port: int
    database: str
    username: str
    ssl_mode: str
    has_password: bool
    version: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_by: uuid.UUID | None
    updated_at: datetime

    @classmethod
    def from_row(cls, r: _DatasourceRow) -> Datasource:
        return cls(
            r.id, r.workspace_id, r.name, r.description, r.kind, r.host, r.port, r.database,
            r.username, r.ssl_mode, r.has_password, r.version, r.created_by, r.created_at,
            r.updated_by, r.updated_at,
        )  # fmt: skip

    def to_api(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "workspace_id": str(self.workspace_id),
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "ssl_mode": self.ssl_mode,
            "has_password": self.has_password,
            "version": self.version,
            "created_by": str(self.created_by) if self.created_by else None,
            "created_at": self.created_at.isoformat(),
            "updated_by": str(self.updated_by) if self.updated_by else None,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ConnectionTarget:
    """What connecting to a datasource needs. The password is decrypted only
    into this object, kept out of its repr, and never serialised."""

    id: uuid.UUID
    version: int
    host: str
    port: int
    database: str
    username: str
    ssl_mode: str
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    latency_ms: float
    server_version: str | None = None
    error: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "latency_ms": self.latency_ms}
        if self.server_version is not None:
            body["server_version"] = self.server_version
        if self.error is not None:
            body["error"] = self.error
        return body
