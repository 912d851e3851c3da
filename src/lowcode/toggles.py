"""The migration toggles of one API process: every flag and every routed
workspace held in memory, kept in step with the database on all nodes
(`TableSync` on the `lowcode_toggles` channel), and the legacy backend.

Built from the process's clients before `Resources` is (it holds them), so
this takes the clients it uses, not `res`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from opentelemetry.trace import Tracer

from lowcode.flags.store import FlagStore
from lowcode.platform.db import Pool
from lowcode.platform.metrics import Metrics
from lowcode.platform.table_sync import TableSync
from lowcode.routing.legacy import LegacyBackend
from lowcode.routing.metrics import LegacyMetrics
from lowcode.routing.operations import OperationIndex
from lowcode.routing.resolve import WorkspaceResolver
from lowcode.routing.state import Routing
from lowcode.routing.table import RouteTable
from lowcode.settings import Settings
from lowcode_gen.queries import Queries

CHANNEL = "lowcode_toggles"  # the queries' pg_notify channel

Loader = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Toggles:
    flags: FlagStore
    sync: TableSync
    routing: Routing | None = None  # None where nothing is routed (the worker)


@asynccontextmanager
async def _synced(settings: Settings, loaders: dict[str, Loader]) -> AsyncIterator[TableSync]:
    assert settings.database_url
    sync = TableSync(settings.database_url, CHANNEL, loaders)
    try:
        await sync.start()
        yield sync
    finally:
        await sync.stop()


@asynccontextmanager
async def running_flags(settings: Settings, pool: Pool, queries: Queries) -> AsyncIterator[Toggles]:
    """Flags alone, for processes that evaluate but do not route (the worker)."""
    flags = FlagStore(settings.flag_defaults)
    async with _synced(settings, {"flags": lambda: flags.reload(pool, queries)}) as sync:
        yield Toggles(flags, sync)


@asynccontextmanager
async def running_toggles(
    settings: Settings,
    pool: Pool,
    queries: Queries,
    metrics: Metrics,
    tracer: Tracer,
    operations: OperationIndex,
) -> AsyncIterator[Toggles]:
    """Load flags and routes, follow their changes, and open the legacy client."""
    flags = FlagStore(settings.flag_defaults)
    table = RouteTable()
    legacy = (
        LegacyBackend(settings, LegacyMetrics(metrics.registry), tracer)
        if settings.legacy_base_url
        else None
    )
    resolver = WorkspaceResolver(pool, queries, metrics, settings.legacy_lookup_cache_size)
    routing = Routing(operations, table, resolver, legacy)
    loaders: dict[str, Loader] = {
        "flags": lambda: flags.reload(pool, queries),
        "routes": lambda: table.reload(pool, queries),
    }
    try:
        async with _synced(settings, loaders) as sync:
            yield Toggles(flags, sync, routing)
    finally:
        if legacy is not None:
            await legacy.aclose()
