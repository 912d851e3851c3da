"""PostgreSQL access: the asyncpg pool, the transaction helper and the named
queries loaded by aiosql from `queries/<context>/*.sql`.

Query functions take `conn` explicitly and never open transactions; services
own transactions (`async with transaction(pool) as conn:`).

Database errors are translated here, once: a query that violates a constraint
its context registered (`CONSTRAINT_ERRORS` in `<context>/errors.py`, passed to
`load_queries`) raises that context's AppError, the asyncpg error as its cause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import aiosql
import asyncpg
from aiosql.adapters.asyncpg import AsyncPGAdapter
from opentelemetry.trace import Tracer

from lowcode.platform import jsoncodec, sqlfiles
from lowcode.platform.errors import AppError
from lowcode.platform.metrics import Metrics

log = logging.getLogger("lowcode.db")

T = TypeVar("T")

_NO_SPAN: AbstractContextManager[None] = nullcontext()

Pool = asyncpg.Pool
Connection = asyncpg.Connection

# What a failing statement or connection of our own database raises: a server
# error, a closed or broken connection, the socket under it. (Errors of users'
# datasources are classified in `datasources/errors.py`.)
DB_ERRORS: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)

# The AppError a violated constraint means, built from the violation and the
# failing query's named parameters (a factory, not a class: most AppErrors want
# a detail naming what collided, e.g. the `name` a unique key refused).
ConstraintError = Callable[[asyncpg.IntegrityConstraintViolationError, Mapping[str, Any]], AppError]
# Constraint (or unique index) name → its error, for one context's queries.
ConstraintErrors = Mapping[str, ConstraintError]


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ, encoder=jsoncodec.dumps, decoder=jsoncodec.loads, schema="pg_catalog"
        )


async def _keep_session_state(_conn: asyncpg.Connection) -> None:
    """The pool's reset after asyncpg's own (rollback, listeners): nothing more."""


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
    reset_session_state: bool = True,
) -> asyncpg.Pool:
    """The pool. Bounded waits everywhere: acquiring, connecting (a blackholed
    server), and each command (a half-open socket after a failover answers
    nothing, and only a client-side timeout notices).

    `reset_session_state=False` skips asyncpg's reset query on every release
    (`CLOSE ALL; UNLISTEN *; RESET ALL; SELECT pg_advisory_unlock_all()`), a
    round trip per checkout and the largest single cost of a short read. Only
    for pools that run nothing but the named queries of `queries/`, none of
    which leaves session state behind (no SET, LISTEN, cursors or session
    advisory locks; `tests/integration/test_queries.py` checks the files). An
    open transaction is still rolled back and listeners dropped (asyncpg
    does that before any reset)."""
    pool = BoundedPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        setup=None,
        init=_init_connection,
        reset=None if reset_session_state else _keep_session_state,
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
        # Labelled histogram children by query name (`labels()` locks and
        # builds its key on every call).
        self._latency: dict[str, Any] = {}

    @asynccontextmanager
    async def observe(self, name: str) -> AsyncIterator[None]:
        # The span's `with` records a failure on it (exception event, ERROR
        # status); without a tracer one shared nullcontext stands in, so the
        # untraced hot path allocates nothing for it.
        span = (
            self.tracer.start_as_current_span(f"sql {name}", attributes={"db.query.name": name})
            if self.tracer
            else _NO_SPAN
        )
        with span:
            start = time.perf_counter()
            try:
                yield
            except BaseException:
                if self.metrics:
                    self.metrics.query_errors.labels(name).inc()
                raise
            finally:
                elapsed = time.perf_counter() - start
                if self.metrics:
                    latency = self._latency.get(name)
                    if latency is None:
                        latency = self._latency[name] = self.metrics.query_latency.labels(name)
                    latency.observe(elapsed)
                if elapsed >= self.slow_s:
                    log.warning(
                        "slow query",
                        extra={"query": name, "duration_ms": round(elapsed * 1000, 2)},
                    )


class ObservedAdapter(AsyncPGAdapter):  # type: ignore[misc]
    """aiosql's asyncpg adapter with every call observed, rows typed and
    constraint violations translated.

    `row_types` maps a query name to the generated row dataclass (see
    `generated/python/lowcode_gen/queries/`); rows come back as instances of it.
    `constraint_errors` maps a query folder (`identity` of `identity.insert_user`)
    to what its constraints mean: the same constraint may mean two things to two
    contexts (a dataset's datasource FK is "no such datasource" when a dataset
    is inserted, "datasource in use" when the datasource is deleted).
    """

    def __init__(
        self,
        observer: QueryObserver,
        row_types: dict[str, type],
        constraint_errors: Mapping[str, ConstraintErrors] | None = None,
    ) -> None:
        super().__init__()
        self.observer = observer
        self.row_types = row_types
        self.constraint_errors = constraint_errors or {}

    def _row(self, query_name: str, record: Any) -> Any:
        cls = self.row_types.get(query_name)
        return record if cls is None or record is None else cls(*record)

    async def _call(
        self,
        query_name: str,
        parameters: Any,
        method: Callable[..., Awaitable[T]],
        sql: str,
        *args: Any,
    ) -> T:
        """`method(sql, *args)` observed; a violated constraint its context
        maps raises that context's AppError (the driver's error as its cause)."""
        try:
            async with self.observer.observe(query_name):
                return await method(sql, *args)
        except asyncpg.IntegrityConstraintViolationError as e:
            errors = self.constraint_errors.get(query_name.partition(".")[0])
            factory = errors.get(e.constraint_name or "") if errors else None
            if factory is None:
                raise
            named = parameters if isinstance(parameters, Mapping) else {}
            raise factory(e, named) from e

    async def select(self, conn, query_name, sql, parameters, record_class=None):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        rows = await self._call(query_name, parameters, conn.fetch, sql, *params)
        for rec in rows:
            yield self._row(query_name, rec)

    async def select_one(self, conn, query_name, sql, parameters, record_class=None):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        rec = await self._call(query_name, parameters, conn.fetchrow, sql, *params)
        return self._row(query_name, rec)

    async def select_value(self, conn, query_name, sql, parameters):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        return await self._call(query_name, parameters, conn.fetchval, sql, *params)

    async def insert_returning(self, conn, query_name, sql, parameters):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        rec = await self._call(query_name, parameters, conn.fetchrow, sql, *params)
        if rec is None:
            return None
        return rec[0] if len(rec) == 1 else self._row(query_name, rec)

    async def insert_update_delete(self, conn, query_name, sql, parameters):  # type: ignore[no-untyped-def]
        params = self.maybe_order_params(query_name, parameters)
        status = await self._call(query_name, parameters, conn.execute, sql, *params)
        # "UPDATE 3" → 3: the affected-row count is what optimistic locking needs.
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def insert_update_delete_many(self, conn, query_name, sql, parameters):  # type: ignore[no-untyped-def]
        params = [self.maybe_order_params(query_name, p) for p in parameters]
        return await self._call(query_name, None, conn.executemany, sql, params)


def load_queries(
    queries_dir: Path,
    *,
    observer: QueryObserver | None = None,
    row_types: dict[str, type] | None = None,
    constraint_errors: Mapping[str, ConstraintErrors] | None = None,
    root: Path | None = None,
) -> Any:
    """Load every `queries/<context>/*.sql` into one aiosql object: `q.<context>.<name>`.

    `constraint_errors` is, by context, which AppError each of its constraints
    means (see `ObservedAdapter`); platform knows no context, so the caller
    that assembles the app passes them in.

    A file that does not parse, or a name defined twice in a folder, raises
    `QueryError`/`QueryErrors` whose text is one `file:line:col: …` line each.
    """
    obs = observer or QueryObserver(None, None, slow_ms=float("inf"))
    factory: Callable[[], ObservedAdapter] = lambda: ObservedAdapter(  # noqa: E731
        obs, row_types or {}, constraint_errors
    )
    root = root or queries_dir.parent  # error paths are shown relative to it
    sqlfiles.scan(queries_dir, root)
    return aiosql.from_path(queries_dir, factory, loader_cls=sqlfiles.located_loader(root))
