"""The routed workspaces, held in this process.

Read on every request by the legacy router, so it must cost nothing when no
workspace is routed (`active` is False) and one dict lookup otherwise. It is
replaced whole when a change is announced (`lowcode.toggles`).
"""

from __future__ import annotations

import asyncio
import uuid

from lowcode.platform.db import Pool
from lowcode_gen.queries import Queries


class RouteTable:
    def __init__(self) -> None:
        self._tags: dict[uuid.UUID, frozenset[str]] = {}
        # The union of every workspace's routed tags: a request whose operation
        # has none of them needs no workspace lookup.
        self.routed_tags: frozenset[str] = frozenset()
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return bool(self._tags)

    def tags_for(self, workspace_id: uuid.UUID) -> frozenset[str]:
        return self._tags.get(workspace_id, frozenset())

    def replace(self, routes: dict[uuid.UUID, frozenset[str]]) -> None:
        self._tags = routes
        self.routed_tags = frozenset().union(*routes.values()) if routes else frozenset()

    async def reload(self, pool: Pool, queries: Queries) -> None:
        # One reload at a time, so a slow one never installs an older table.
        async with self._lock:
            async with pool.acquire() as conn:
                rows = {
                    r.workspace_id: frozenset(r.legacy_tags)
                    async for r in queries.routing.list_routes(conn)
                }
            self.replace(rows)
