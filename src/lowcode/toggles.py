"""The migration toggles of one API process: every flag and every routed
workspace held in memory, kept in step with the database on all nodes
(`TableSync` on the `lowcode_toggles` channel), and the legacy backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from lowcode.flags.store import FlagStore
from lowcode.platform.table_sync import TableSync
from lowcode.resources import Resources
from lowcode.routing.legacy import LegacyBackend
from lowcode.routing.metrics import LegacyMetrics
from lowcode.routing.operations import OperationIndex
from lowcode.routing.resolve import WorkspaceResolver
from lowcode.routing.state import Routing
from lowcode.routing.table import RouteTable

CHANNEL = "lowcode_toggles"  # the queries' pg_notify channel

Loader = Callable[[], Awaitable[None]]


@asynccontextmanager
async def _synced(res: Resources, loaders: dict[str, Loader]) -> AsyncIterator[TableSync]:
    assert res.settings.database_url
    sync = TableSync(res.settings.database_url, CHANNEL, loaders)
    try:
        await sync.start()
        res.toggles = sync
        yield sync
    finally:
        await sync.stop()


@asynccontextmanager
async def running_flags(res: Resources) -> AsyncIterator[FlagStore]:
    """Flags alone, for processes that evaluate but do not route (the worker)."""
    flags = FlagStore(res.settings.flag_defaults)
    async with _synced(res, {"flags": lambda: flags.reload(res)}):
        res.flags = flags
        yield flags


@asynccontextmanager
async def running_toggles(res: Resources, operations: OperationIndex) -> AsyncIterator[Routing]:
    """Load flags and routes, follow their changes, and open the legacy client."""
    settings = res.settings
    flags = FlagStore(settings.flag_defaults)
    table = RouteTable()
    legacy = (
        LegacyBackend(settings, LegacyMetrics(res.metrics.registry), res.tracer)
        if settings.legacy_base_url
        else None
    )
    routing = Routing(
        operations, table, WorkspaceResolver(res, settings.legacy_lookup_cache_size), legacy
    )
    loaders: dict[str, Loader] = {
        "flags": lambda: flags.reload(res),
        "routes": lambda: table.reload(res),
    }
    try:
        async with _synced(res, loaders):
            res.flags, res.routing = flags, routing
            yield routing
    finally:
        if legacy is not None:
            await legacy.aclose()
