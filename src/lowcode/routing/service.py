"""Admin use cases of legacy routing: which route groups (OpenAPI tags) of a
workspace the legacy backend serves.

Writes `NOTIFY` in their transaction, so every node reloads its route table
at commit; this node reloads before answering.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lowcode.identity.models import Actor
from lowcode.platform.db import transaction
from lowcode.platform.errors import FieldError, Invalid
from lowcode.platform.pagination import PageOf, PageRequest
from lowcode.resources import Resources
from lowcode.routing.state import Routing

log = logging.getLogger("lowcode.routing")


@dataclass(frozen=True, slots=True)
class LegacyRoutes:
    workspace_id: uuid.UUID
    legacy_tags: list[str]
    updated_by: uuid.UUID | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> LegacyRoutes:
        return cls(row.workspace_id, sorted(row.legacy_tags), row.updated_by, row.updated_at)

    def to_api(self) -> dict[str, Any]:
        return {
            "workspace_id": str(self.workspace_id),
            "legacy_tags": self.legacy_tags,
            "updated_by": None if self.updated_by is None else str(self.updated_by),
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }


def _routing(res: Resources) -> Routing:
    if res.routing is None:
        raise RuntimeError("routing is not loaded in this process (see lowcode.toggles)")
    return res.routing


async def list_routes(res: Resources, page: PageRequest) -> PageOf[LegacyRoutes]:
    async with res.pool.acquire() as conn:
        rows = [LegacyRoutes.from_row(r) async for r in res.queries.routing.list_routes(conn)]
    return PageOf(rows[page.offset : page.offset + page.limit], page, len(rows))


async def get_routes(res: Resources, workspace_id: uuid.UUID) -> LegacyRoutes:
    async with res.pool.acquire() as conn:
        row = await res.queries.routing.get_route(conn, workspace_id=workspace_id)
    return LegacyRoutes(workspace_id, []) if row is None else LegacyRoutes.from_row(row)


async def put_routes(
    res: Resources, actor: Actor, workspace_id: uuid.UUID, tags: list[str]
) -> LegacyRoutes:
    """Replace the workspace's legacy route groups; an empty list removes them."""
    routing = _routing(res)
    allowed = routing.operations.routable_tags
    bad = [
        FieldError(f"legacy_tags.{i}", f"{t!r} is not a routable tag; use {sorted(allowed)}")
        for i, t in enumerate(tags)
        if t not in allowed
    ]
    if bad:
        raise Invalid("unknown or unroutable tags", errors=bad)
    q = res.queries.routing
    async with transaction(res.pool) as conn:
        if tags:
            row = await q.upsert_route(
                conn, workspace_id=workspace_id, legacy_tags=sorted(set(tags)), actor=actor.user_id
            )
            result = LegacyRoutes.from_row(row)
        else:
            await q.delete_route(conn, workspace_id=workspace_id)
            result = LegacyRoutes(workspace_id, [])
        await q.notify_routes_changed(conn)
    log.info(
        "legacy routes changed",
        extra={
            "workspace_id": str(workspace_id),
            "legacy_tags": result.legacy_tags,
            "actor": str(actor.user_id),
        },
    )
    await routing.table.reload(res)
    return result
