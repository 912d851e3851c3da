"""One Jdbc → Jdbc job: PostgreSQL COPY out of the source, COPY into the sink.

    source ── COPY (query) TO STDOUT ──► bounded queue ──► COPY sink FROM STDIN ── sink
                                    (QUEUE_CHUNKS chunks)

The rows stream through in the chunks the driver reads (text format, so a
chunk's rows are its newline count and the sink parses what the source
printed, exactly as `psql … | psql …` would); at most QUEUE_CHUNKS chunks are
held, never the table. The source is read in one REPEATABLE READ, READ ONLY
transaction (one snapshot; a query cannot write). The sink is written in one
transaction, whatever the mode, so readers never see a half-written table:

- append: COPY into the table;
- overwrite: DELETE every row, then COPY (readers see the old rows until commit);
- upsert: COPY into a temporary staging table, then INSERT … SELECT … ON
  CONFLICT (keys) DO UPDATE.

A missing sink table is created from the source's column types first
(SeaTunnel's CREATE_SCHEMA_WHEN_NOT_EXIST), inside the same transaction.
Failure or cancel terminates both connections, and the servers roll back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field

import asyncpg

from lowcode_peers.seatunnel import statements as sql
from lowcode_peers.seatunnel.errors import CONNECT_ERRORS, SQL_ERRORS, pg_message
from lowcode_peers.seatunnel.plan import Endpoint, Plan

# Chunks between reader and writer; a chunk is one driver read (tens to a few
# hundred KiB), so the pipe holds a few MiB at most.
QUEUE_CHUNKS = 16
CONNECT_TIMEOUT_S = 10.0
SOURCE_KINDS = frozenset("rpvmf")  # tables, partitioned tables, views, matviews, foreign tables
SINK_KINDS = frozenset("rp")
SSL = {"disable": False, "allow": "allow", "prefer": "prefer", "require": "require",
       "verify-ca": "verify-ca", "verify-full": "verify-full"}  # fmt: skip


class CopyFailed(Exception):
    """The job cannot complete; the message is its `error_msg`."""


@dataclass
class Progress:
    """Counters behind SeaTunnel's metrics for one job."""

    started: float = field(default_factory=time.monotonic)
    source_rows: int = 0
    source_bytes: int = 0
    sink_rows: int = 0
    sink_bytes: int = 0
    committed_rows: int = 0
    committed_bytes: int = 0
    queued: int = 0  # chunks waiting between reader and writer
    committed: bool = False  # the sink's transaction went through

    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-6)

    def key(self) -> tuple[int, ...]:
        return (self.source_rows, self.sink_rows, self.committed_rows, self.queued)


class CopyRun:
    """Runs a plan once; `abort()` (from a cancel) ends it within moments."""

    def __init__(self, plan: Plan, progress: Progress) -> None:
        self.plan = plan
        self.progress = progress
        self._conns: list[asyncpg.Connection] = []

    def abort(self) -> None:
        """Close both connections now: a COPY in flight stops, the servers roll back."""
        for conn in self._conns:
            conn.terminate()

    async def _connect(self, endpoint: Endpoint, side: str) -> asyncpg.Connection:
        try:
            conn = await asyncpg.connect(
                host=endpoint.host,
                port=endpoint.port,
                user=endpoint.user,
                password=endpoint.password,
                database=endpoint.database,
                ssl=SSL[endpoint.sslmode],
                timeout=CONNECT_TIMEOUT_S,
                statement_cache_size=0,
                server_settings={"application_name": f"lowcode-peers-sync-{side}"},
            )
        except CONNECT_ERRORS as e:
            raise CopyFailed(f"cannot connect to the {side} database: {pg_message(e)}") from None
        self._conns.append(conn)
        return conn

    async def run(self) -> None:
        """Copy, commit, close; CopyFailed (with a message for error_msg) otherwise."""
        try:
            src = await self._connect(self.plan.source.endpoint, "source")
            sink = await self._connect(self.plan.sink.endpoint, "sink")
            reading = src.transaction(isolation="repeatable_read", readonly=True)
            await reading.start()
            columns = await self._source_columns(src)
            writing = sink.transaction()
            await writing.start()
            target, names = await self._prepare_sink(sink, columns)
            await self._pipe(src, sink, target, names)
            await self._finish(sink, target, names)
            await writing.commit()
            self.progress.committed = True
            self.progress.committed_rows = self.progress.sink_rows
            self.progress.committed_bytes = self.progress.sink_bytes
            await reading.commit()
        except BaseException:
            self.abort()
            raise
        else:
            for conn in self._conns:
                # The copy committed; a close that fails or hangs loses nothing.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5)

    async def _source_columns(self, src: asyncpg.Connection) -> list[sql.Column]:
        source = self.plan.source
        try:
            if source.query is not None:
                stmt = await src.prepare(source.query)
                attrs = stmt.get_attributes()
                types = await src.fetch(sql.TYPE_NAMES, [a.type.oid for a in attrs])
                columns = [
                    sql.column(a.name, t["type_sql"], t["builtin"])
                    for a, t in zip(attrs, types, strict=True)
                ]
            else:
                assert source.table is not None
                rows = await src.fetch(sql.TABLE_COLUMNS, *source.table)
                if not rows:
                    raise CopyFailed(f"source table {source.path} does not exist")
                if rows[0]["relkind"] not in SOURCE_KINDS:
                    raise CopyFailed(f"source {source.path} is not a table or view")
                columns = [sql.column(r["name"], r["type_sql"], r["builtin"]) for r in rows]
        except SQL_ERRORS as e:
            raise CopyFailed(f"source query failed: {pg_message(e)}") from None
        names = [c.name for c in columns]
        if not names:
            raise CopyFailed("the source returns no columns")
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise CopyFailed(f"the source returns column {duplicated[0]!r} more than once")
        return columns

    async def _prepare_sink(
        self, sink: asyncpg.Connection, columns: list[sql.Column]
    ) -> tuple[tuple[str | None, str], list[str]]:
        """Create the sink if missing, check it, clear it (overwrite) or stage
        (upsert); returns the table the COPY writes into and its columns."""
        spec = self.plan.sink
        schema, table = spec.table
        names = [c.name for c in columns]
        try:
            existing = await sink.fetch(sql.TABLE_COLUMNS, schema, table)
            if not existing:
                if not spec.create_when_missing:
                    raise CopyFailed(f"sink table {spec.path} does not exist")
                keys = spec.primary_keys if spec.mode == "upsert" else ()
                await sink.execute(sql.create_table(schema, table, columns, keys))
            else:
                if existing[0]["relkind"] not in SINK_KINDS:
                    raise CopyFailed(f"sink {spec.path} is not a table")
                have = {r["name"] for r in existing}
                missing = [n for n in names if n not in have]
                if missing:
                    raise CopyFailed(f"sink table {spec.path} has no column {missing[0]!r}")
            if spec.mode == "upsert":
                absent = [k for k in spec.primary_keys if k not in names]
                if absent:
                    raise CopyFailed(f"primary key column {absent[0]!r} is not a source column")
                unique = await sink.fetchval(
                    sql.HAS_UNIQUE_KEY, schema, table, list(spec.primary_keys)
                )
                if not unique:
                    keys_text = ", ".join(spec.primary_keys)
                    raise CopyFailed(
                        f"sink table {spec.path} has no unique index on ({keys_text}) to upsert on"
                    )
                staging = f"lc_stage_{uuid.uuid4().hex[:12]}"
                await sink.execute(sql.create_staging(staging, schema, table, names))
                return (None, staging), names
            if spec.mode == "overwrite":
                await sink.execute(sql.delete_all(schema, table))
        except SQL_ERRORS as e:
            raise CopyFailed(f"sink failed: {pg_message(e)}") from None
        return (schema, table), names

    async def _pipe(
        self,
        src: asyncpg.Connection,
        sink: asyncpg.Connection,
        target: tuple[str | None, str],
        names: list[str],
    ) -> None:
        progress = self.progress
        source = self.plan.source
        queue: asyncio.Queue[tuple[bytes, int] | None] = asyncio.Queue(maxsize=QUEUE_CHUNKS)

        async def received(chunk: bytes) -> None:
            rows = chunk.count(b"\n")  # text format: every row ends with one newline
            progress.source_rows += rows
            progress.source_bytes += len(chunk)
            await queue.put((bytes(chunk), rows))
            progress.queued = queue.qsize()

        if source.query is not None:
            query = source.query
        else:
            assert source.table is not None
            query = sql.select_columns(source.table[0], source.table[1], names)

        async def read() -> None:
            try:
                await src.copy_from_query(query, output=received, format="text")
            except SQL_ERRORS as e:
                raise CopyFailed(f"source query failed: {pg_message(e)}") from None
            await queue.put(None)

        async def chunks():  # type: ignore[no-untyped-def]
            while (item := await queue.get()) is not None:
                chunk, rows = item
                progress.queued = queue.qsize()
                progress.sink_rows += rows
                progress.sink_bytes += len(chunk)
                yield chunk

        async def write() -> None:
            try:
                await sink.copy_to_table(
                    target[1], schema_name=target[0], columns=names, source=chunks(), format="text"
                )
            except SQL_ERRORS as e:
                raise CopyFailed(f"sink failed: {pg_message(e)}") from None

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(read())
                tg.create_task(write())
        except BaseExceptionGroup as group:
            # The first real failure; the other side was only cancelled.
            failures = [e for e in group.exceptions if not isinstance(e, asyncio.CancelledError)]
            raise (failures[0] if failures else group.exceptions[0]) from None

    async def _finish(
        self, sink: asyncpg.Connection, target: tuple[str | None, str], names: list[str]
    ) -> None:
        spec = self.plan.sink
        if spec.mode != "upsert":
            return
        schema, table = spec.table
        try:
            await sink.execute(sql.upsert_from(target[1], schema, table, names, spec.primary_keys))
            await sink.execute(sql.drop_table(target[1]))
        except SQL_ERRORS as e:
            raise CopyFailed(f"sink failed: {pg_message(e)}") from None
