"""PostgreSQL access: the asyncpg pool, the transaction helper and the named
queries loaded by aiosql from `queries/<context>/*.sql`.

Query functions take `conn` explicitly and never open transactions; services
own transactions (`async with transaction(pool) as conn:`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosql
import asyncpg
from aiosql.adapters.asyncpg import AsyncPGAdapter
from opentelemetry.trace import Tracer

from lowcode.platform import jsoncodec, sqlfiles
from lowcode.platform.metrics import Metrics

log = logging.getLogger("lowcode.db")

Pool = asyncpg.Pool
Connection = asyncpg.Connection


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ, encoder=jsoncodec.dumps, decoder=jsoncodec.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (UNLISTEN *, RESET ALL, advisory
    unlock, CLOSE ALL): one more round trip per release — as much as a room's
    whole append. Nothing here leaves session state on a pooled connection:
    settings are transaction-local (`set_config(…, true)`), cursors live in
    transactions, LISTEN and advisory locks use connections of their own. An
    open transaction is still rolled back (asyncpg does that before this)."""


class BoundedPool(asyncpg.Pool):  # type: ignore[misc]
    """An asyncpg pool whose `acquire()` waits at most `acquire_timeout_s` by
    default: with the pool exhausted or the server unreachable a request fails
    with TimeoutError (a 503, see `platform.outage`) instead of queueing forever.
    Every `pool.acquire()` and `transaction(pool)` in the code base gets it."""

    def __init__(self, *args: Any, acquire_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acquire_timeout_s = acquire_timeout_s

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self.acquire_timeout_s if timeout is None else timeout)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 20,
    statement_timeout_ms: int = 30_000,
    acquire_timeout_s: float = 5.0,
    command_timeout_s: float | None = None,
    connect_timeout_s: float = 5.0,
) -> asyncpg.Pool:
    """The pool. Bounded waits everywhere: acquiring, connecting (a blackholed
    server), and each command (a half-open socket after a failover answers
    nothing, and only a client-side timeout notices)."""
    pool = BoundedPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        setup=None,
        init=_init_connection,
        reset=_keep_session,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        acquire_timeout_s=acquire_timeout_s,
        command_timeout=command_timeout_s,
        timeout=connect_timeout_s,
        server_settings={
            "application_name": "lowcode",
            "statement_timeout": str(statement_timeout_ms),
        },
    )
    await pool
    return pool


def pool_stats(pool: asyncpg.Pool) -> tuple[int, int, int]:
    size, idle = pool.get_size(), pool.get_idle_size()
    return size, size - idle, idle


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """Acquire a connection and run the block in one transaction on it."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


class QueryObserver:
    """Times every named query: latency histogram, slow-query log line, span."""

    def __init__(self, metrics: Metrics | None, tracer: Tracer | None, slow_ms: float) -> None:
        self.metrics = metrics
        self.tracer = tracer
        self.slow_s = slow_ms / 1000.0

    @asynccontextmanager
    async def observe(self, name: str) -> AsyncIterator[None]:
        span_cm = (
            self.tracer.start_as_current_span(f"sql {name}", attributes={"db.query.name": name})
            if self.tracer
            else None
        )
        if span_cm is not None:
            span_cm.__enter__()
        start = time.perf_counter()
        failed: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            failed = exc
            raise
        finally:
            elapsed = time.perf_counter() - start
            if self.metrics:
                self.metrics.query_latency.labels(name).observe(elapsed)
                if failed is not None:
                    self.metrics.query_errors.labels(name).inc()
            if elapsed >= self.slow_s:
                log.warning(
                    "slow query",
                    extra={"query": name, "duration_ms": round(elapsed * 1000, 2)},
                )
            if span_cm is not None:
                if failed is None:
                    span_cm.__exit__(None, None, None)
                else:
                    span_cm.__exit__(type(failed), failed, failed.__traceback__)


class ObservedAdapter(AsyncPGAdapter):  # type: ignore[misc]
    """aiosql's asyncpg adapter with every call observed and rows typed.

    `row_types` maps a query name to the generated row dataclass (see
    `generated/python/lowcode_gen/queries/`); rows come back as instances of it.
    """

    def __init__(self, observer: QueryObserver, row_types: dict[str, type]) -> None:
        super().__init__()
        self.observer = observer
        self.row_types = row_types

    def _row(self, query_name: str, record: Any) -> Any:
        cls = self.row_types.get(query_name)
        return record if cls is None or record is None else cls(*record)

    async def select(self, conn, query_name, sql, parameters, record_class=None):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        async with self.observer.observe(query_name):
            rows = await conn.fetch(sql, *params)
        for rec in rows:
            yield self._row(query_name, rec)

    async def select_one(self, conn, query_name, sql, parameters, record_class=None):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        async with self.observer.observe(query_name):
            return self._row(query_name, await conn.fetchrow(sql, *params))

    async def select_value(self, conn, query_name, sql, parameters):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        async with self.observer.observe(query_name):
            return await conn.fetchval(sql, *params)

    async def insert_returning(self, conn, query_name, sql, parameters):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        async with self.observer.observe(query_name):
            rec = await conn.fetchrow(sql, *params)
        if rec is None:
            return None
        return rec[0] if len(rec) == 1 else self._row(query_name, rec)

    async def insert_update_delete(self, conn, query_name, sql, parameters):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        async with self.observer.observe(query_name):
            status = await conn.execute(sql, *params)
        # "UPDATE 3" → 3: the affected-row count is what optimistic locking needs.
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def insert_update_delete_many(self, conn, query_name, sql, parameters):  # type: ignore[no-untyped-def]
        params = [self.maybe_order_params(query_name, p) for p in parameters]
        async with self.observer.observe(query_name):
            return await conn.executemany(sql, params)


def load_queries(
    queries_dir: Path,
    *,
    observer: QueryObserver | None = None,
    row_types: dict[str, type] | None = None,
    root: Path | None = None,
) -> Any:
    """Load every `queries/<context>/*.sql` into one aiosql object: `q.<context>.<name>`.

    A file that does not parse, or a name defined twice in a folder, raises
    `QueryError`/`QueryErrors` whose text is one `file:line:col: …` line each.
    """
    obs = observer or QueryObserver(None, None, slow_ms=float("inf"))
    factory: Callable[[], ObservedAdapter] = lambda: ObservedAdapter(obs, row_types or {})  # noqa: E731
    root = root or queries_dir.parent  # error paths are shown relative to it
    sqlfiles.scan(queries_dir, root)
    return aiosql.from_path(queries_dir, factory, loader_cls=sqlfiles.located_loader(root))
