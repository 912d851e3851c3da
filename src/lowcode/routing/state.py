"""What the legacy router needs at request time, built by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

from lowcode.routing.legacy import LegacyBackend
from lowcode.routing.operations import Operation, OperationIndex
from lowcode.routing.resolve import WorkspaceResolver
from lowcode.routing.table import RouteTable


@dataclass
class Routing:
    operations: OperationIndex
    table: RouteTable
    resolver: WorkspaceResolver
    # None without LEGACY_BASE_URL: routes can be set, nothing is proxied.
    legacy: LegacyBackend | None

    async def routed_operation(self, scope: Scope) -> Operation | None:
        """The operation of this request when the legacy backend serves it (a
        tag of it is routed for the workspace it names); None otherwise. Free
        while nothing is routed."""
        if not self.table.active:
            return None
        matched = self.operations.match(scope["method"], scope["path"])
        if matched is None:
            return None
        op, params = matched
        candidate = op.tags & self.table.routed_tags
        if not candidate:
            return None
        workspace_id = await self.resolver.workspace_of(op, params)
        if workspace_id is None or not candidate & self.table.tags_for(workspace_id):
            return None
        return op
