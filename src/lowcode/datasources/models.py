from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lowcode.platform.audit import Audited, audit_to_api


class _DatasourceRow(Audited, Protocol):
    """The generated rows this model is built from (several queries return it)."""

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
            **audit_to_api(self),
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
