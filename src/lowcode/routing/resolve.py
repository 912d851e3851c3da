"""The workspace a request names: in its path, or through the resource it names.

Lookups (page, datasource, dataset, sync job or sync run → workspace) are
cached: none of them ever moves to another workspace, so a cached answer
never goes stale. Misses are not cached — the resource may be created a
moment later.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

from cachetools import LRUCache

from lowcode.platform.db import Connection, Pool
from lowcode.platform.metrics import Metrics
from lowcode.routing.operations import WORKSPACE_PARAMS, Operation
from lowcode_gen.queries import Queries

log = logging.getLogger("lowcode.routing")

Lookup = Callable[[Queries, Connection, uuid.UUID], Awaitable[uuid.UUID | None]]


async def _page_workspace(
    queries: Queries, conn: Connection, page_id: uuid.UUID
) -> uuid.UUID | None:
    return await queries.routing.page_workspace(conn, page_id=page_id)


async def _datasource_workspace(
    queries: Queries, conn: Connection, datasource_id: uuid.UUID
) -> uuid.UUID | None:
    return await queries.routing.datasource_workspace(conn, datasource_id=datasource_id)


async def _dataset_workspace(
    queries: Queries, conn: Connection, dataset_id: uuid.UUID
) -> uuid.UUID | None:
    return await queries.routing.dataset_workspace(conn, dataset_id=dataset_id)


async def _sync_job_workspace(
    queries: Queries, conn: Connection, job_id: uuid.UUID
) -> uuid.UUID | None:
    # `job_id` also names admin jobs (integers, never routed): those never
    # parse as a uuid, so they never get here.
    return await queries.routing.sync_job_workspace(conn, sync_job_id=job_id)


async def _sync_run_workspace(
    queries: Queries, conn: Connection, run_id: uuid.UUID
) -> uuid.UUID | None:
    return await queries.routing.sync_run_workspace(conn, run_id=run_id)


# Path parameter → how to find its workspace. Keep in step with WORKSPACE_PARAMS.
LOOKUPS: dict[str, Lookup] = {
    "page_id": _page_workspace,
    "datasource_id": _datasource_workspace,
    "dataset_id": _dataset_workspace,
    "job_id": _sync_job_workspace,
    "run_id": _sync_run_workspace,
}
assert set(WORKSPACE_PARAMS) == {"workspace_id", *LOOKUPS}


class WorkspaceResolver:
    def __init__(self, pool: Pool, queries: Queries, metrics: Metrics, cache_size: int) -> None:
        self.pool, self.queries, self.metrics = pool, queries, metrics
        self._cache: LRUCache[tuple[str, uuid.UUID], uuid.UUID] = LRUCache(maxsize=cache_size)

    async def workspace_of(self, op: Operation, params: dict[str, str]) -> uuid.UUID | None:
        name = op.workspace_param
        if name is None:
            return None
        try:
            value = uuid.UUID(params[name])
        except (KeyError, ValueError):
            return None  # Connexion answers the malformed id with a 400
        if name == "workspace_id":
            return value
        cached = self._cache.get((name, value))
        if cached is not None:
            self.metrics.cache_requests.labels("route_workspace", "hit").inc()
            return cached
        self.metrics.cache_requests.labels("route_workspace", "miss").inc()
        try:
            async with self.pool.acquire() as conn:
                found = await LOOKUPS[name](self.queries, conn, value)
        except Exception as e:
            # Without the database this request cannot be served here either;
            # it goes on to our handler (and, if that fails, the fallback).
            log.warning("workspace lookup failed", extra={"param": name, "error": repr(e)})
            return None
        if found is not None:
            self._cache[(name, value)] = found
        return found
