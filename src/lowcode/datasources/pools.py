"""A small asyncpg pool per datasource, opened on first use, closed when idle
or when the datasource changes (its version moves) or goes away.

Pool connections run with `default_transaction_read_only=on` and a statement
timeout as a second line behind each preview's own READ ONLY transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from lowcode.datasources.errors import (
    CONNECT_ERRORS,
    REMOTE_ERRORS,
    DatasourceUnreachable,
    describe_connect_error,
)
from lowcode.datasources.hosts import HostPolicy
from lowcode.datasources.models import ConnectionTarget
from lowcode.platform.metrics import Metrics
from lowcode.sql.models import Catalog

log = logging.getLogger("lowcode.datasources")

# asyncpg's `ssl` argument by our ssl_mode (libpq's names).
SSL_MODES: dict[str, str | bool] = {
    "disable": False,
    "prefer": "prefer",
    "require": "require",
    "verify-full": "verify-full",
}


class CatalogCache:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[uuid.UUID, tuple[int, float, Catalog]] = {}

    def get(self, datasource_id: uuid.UUID, version: int) -> Catalog | None:
        entry = self._entries.get(datasource_id)
        if entry is None or entry[0] != version or entry[1] < time.monotonic():
            return None
        return entry[2]

    def put(self, datasource_id: uuid.UUID, version: int, catalog: Catalog) -> None:
        self._entries[datasource_id] = (version, time.monotonic() + self.ttl_s, catalog)

    def forget(self, datasource_id: uuid.UUID) -> None:
        self._entries.pop(datasource_id, None)


@dataclass
class _Entry:
    pool: asyncpg.Pool
    version: int
    last_used: float


class DatasourcePools:
    def __init__(
        self,
        policy: HostPolicy,
        metrics: Metrics,
        *,
        max_size: int,
        idle_s: float,
        connect_timeout_s: float,
        statement_timeout_ms: int,
        catalog_ttl_s: float = 30.0,
    ) -> None:
        self.policy = policy
        self.metrics = metrics
        self.max_size = max_size
        self.idle_s = idle_s
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_ms = statement_timeout_ms
        self._entries: dict[uuid.UUID, _Entry] = {}
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        # Live catalogs (datasources/catalog.py), dropped with the pool.
        self.catalogs = CatalogCache(catalog_ttl_s)

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap_forever(), name="datasource-pool-reaper")

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        async with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        await asyncio.gather(*(self._close(e.pool) for e in entries))
        self.metrics.datasource_pools.set(0)

    def open_count(self) -> int:
        return len(self._entries)

    def is_open(self, datasource_id: uuid.UUID) -> bool:
        return datasource_id in self._entries

    async def invalidate(self, datasource_id: uuid.UUID) -> None:
        """The datasource changed or is gone: close its pool (on this node;
        other nodes notice the new version on their next use)."""
        self.catalogs.forget(datasource_id)
        async with self._lock:
            entry = self._entries.pop(datasource_id, None)
            self.metrics.datasource_pools.set(len(self._entries))
        if entry is not None:
            await self._close(entry.pool)

    async def reap(self, now: float | None = None) -> int:
        """Close pools unused for `idle_s`; returns how many were closed."""
        now = time.monotonic() if now is None else now
        async with self._lock:
            idle = [k for k, e in self._entries.items() if now - e.last_used >= self.idle_s]
            closing = [self._entries.pop(k) for k in idle]
            self.metrics.datasource_pools.set(len(self._entries))
        await asyncio.gather(*(self._close(e.pool) for e in closing))
        return len(closing)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, min(self.idle_s / 2, 30.0)))
            try:
                await self.reap()
            except Exception:  # the reaper must outlive one bad close
                log.exception("closing idle datasource pools failed")

    @contextlib.asynccontextmanager
    async def acquire(self, target: ConnectionTarget) -> AsyncIterator[asyncpg.Connection]:
        """A connection to the datasource; DatasourceUnreachable when there is none."""
        pool = await self._pool(target)
        try:
            conn_cm = pool.acquire(timeout=self.connect_timeout_s)
            conn = await conn_cm.__aenter__()
        except CONNECT_ERRORS as e:
            raise DatasourceUnreachable(
                f"cannot connect to the datasource: {describe_connect_error(e)}"
            ) from None  # `from None`: the driver's error may quote connection details
        try:
            yield conn
        finally:
            await conn_cm.__aexit__(None, None, None)

    async def _pool(self, target: ConnectionTarget) -> asyncpg.Pool:
        stale: asyncpg.Pool | None = None
        async with self._lock:
            entry = self._entries.get(target.id)
            if entry is not None and entry.version != target.version:
                stale = entry.pool
                entry = None
            if entry is None:
                address = await self.policy.resolve(
                    target.host, target.port, self.connect_timeout_s
                )
                pool = await self._create(target, address)
                entry = _Entry(pool, target.version, time.monotonic())
                self._entries[target.id] = entry
                self.metrics.datasource_pools.set(len(self._entries))
            entry.last_used = time.monotonic()
        if stale is not None:
            await self._close(stale)
        return entry.pool

    async def _create(self, target: ConnectionTarget, address: str) -> asyncpg.Pool:
        # verify-full checks the certificate against the name, so connect by
        # name; otherwise to the address the policy checked (see hosts.py).
        host = target.host if target.ssl_mode == "verify-full" else address
        # min_size=0: creating the pool opens no connection yet.
        return await asyncpg.create_pool(
            host=host,
            port=target.port,
            user=target.username,
            password=target.password,
            database=target.database,
            ssl=SSL_MODES.get(target.ssl_mode, "prefer"),
            min_size=0,
            max_size=self.max_size,
            max_inactive_connection_lifetime=self.idle_s,
            timeout=self.connect_timeout_s,
            statement_cache_size=0,  # ad-hoc dataset SQL; nothing worth caching
            server_settings={
                "application_name": "lowcode-datasets",
                "default_transaction_read_only": "on",
                "statement_timeout": str(self.statement_timeout_ms),
                "idle_in_transaction_session_timeout": str(self.statement_timeout_ms * 2),
            },
        )

    @staticmethod
    async def _close(pool: asyncpg.Pool) -> None:
        try:
            await asyncio.wait_for(pool.close(), 5)
        except REMOTE_ERRORS:
            pool.terminate()


async def connect_once(
    policy: HostPolicy, target: ConnectionTarget, timeout_s: float
) -> asyncpg.Connection:
    """One connection outside any pool (the connection test)."""
    address = await policy.resolve(target.host, target.port, timeout_s)
    return await asyncpg.connect(
        host=target.host if target.ssl_mode == "verify-full" else address,
        port=target.port,
        user=target.username,
        password=target.password,
        database=target.database,
        ssl=SSL_MODES.get(target.ssl_mode, "prefer"),
        timeout=timeout_s,
        statement_cache_size=0,
        server_settings={"application_name": "lowcode-datasource-test"},
    )
