"""What a sync job definition must satisfy before it is saved, checked on the
datasources themselves (their read-only pool connections):

- the source reads: the table exists, or the dataset's SQL prepares (in a
  READ ONLY transaction; preparing runs nothing) — its columns and types;
- key columns (upsert) are source columns;
- the sink can take the rows: an existing table is a table the datasource's
  user may INSERT into (and DELETE from for overwrite, UPDATE for upsert),
  has every source column with a type the source's values fit, no NOT NULL
  column without a default that the source leaves out, and for upsert a
  unique index on exactly the key columns; a missing table is one the user
  may create in an existing schema (the peer creates it from the source's
  column types on the first run).

Each problem is a 422 naming what to fix; `errors[]` lists column problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from lowcode.datasources.errors import SQL_ERRORS, DatasourceUnreachable
from lowcode.datasources.models import ConnectionTarget
from lowcode.platform.errors import FieldError
from lowcode.resources import Resources
from lowcode.sync.errors import SyncJobInvalid, SyncSinkInvalid, SyncSourceInvalid
from lowcode.sync.models import Definition, Sink
from lowcode_gen.queries.sync import RelationColumnsRow, TablePrivilegesRow

SOURCE_KINDS = frozenset("rpvmf")
SINK_KINDS = frozenset("rp")

# Source type → sink types its values fit, through COPY's text format (what
# the source prints, the sink parses). Every type fits text-like sinks.
_TEXT = frozenset({"text", "varchar", "bpchar", "name", "citext"})
_WIDER: dict[str, frozenset[str]] = {
    "int2": frozenset({"int4", "int8", "numeric", "float4", "float8"}),
    "int4": frozenset({"int8", "numeric", "float8"}),
    "int8": frozenset({"numeric"}),
    "float4": frozenset({"float8"}),
    "date": frozenset({"timestamp", "timestamptz"}),
    "timestamp": frozenset({"timestamptz"}),
    "timestamptz": frozenset({"timestamp"}),
    "json": frozenset({"jsonb"}),
    "jsonb": frozenset({"json"}),
    "time": frozenset({"timetz"}),
    "cidr": frozenset({"inet"}),
    **{t: _TEXT for t in _TEXT},
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_name: str  # pg_type.typname: int4, varchar, _int4 (an array of int4)


def fits(source: str, sink: str) -> bool:
    """Whether every value of type `source` is accepted by a column of type `sink`."""
    if source == sink or sink in _TEXT:
        return True
    if source.startswith("_") and sink.startswith("_"):
        return fits(source[1:], sink[1:])
    return sink in _WIDER.get(source, frozenset())


async def source_columns(
    res: Resources, target: ConnectionTarget, *, sql: str | None, table: tuple[str, str] | None
) -> list[Column]:
    """The columns the source yields: of the dataset's SQL, or of the table."""
    q = res.queries.sync
    async with res.datasource_pools.acquire(target) as conn:
        try:
            if sql is not None:
                async with conn.transaction(readonly=True):
                    attributes = (await conn.prepare(sql)).get_attributes()
                    oids = [a.type.oid for a in attributes]
                    names = [r.type_name or "" async for r in q.type_names(conn, oids=oids)]
                columns = [Column(a.name, t) for a, t in zip(attributes, names, strict=True)]
            else:
                assert table is not None
                rows = [
                    r
                    async for r in q.relation_columns(
                        conn, schema_name=table[0], table_name=table[1]
                    )
                ]
                if not rows:
                    raise SyncSourceInvalid(
                        f"the source datasource has no table {table[0]}.{table[1]}"
                    )
                if rows[0].relkind not in SOURCE_KINDS:
                    raise SyncSourceInvalid(f"{table[0]}.{table[1]} is not a table or view")
                columns = [Column(r.name or "", r.type_name or "") for r in rows]
        except SQL_ERRORS as e:
            raise SyncSourceInvalid(f"the source query fails on its datasource: {e}") from None
    names = [c.name for c in columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SyncSourceInvalid(
            f"the source returns column {twice[0]!r} more than once; give each column its own name"
        )
    if not columns:
        raise SyncSourceInvalid("the source returns no columns")
    return columns


def check_keys(definition: Definition, columns: list[Column]) -> None:
    names = {c.name for c in columns}
    missing = [k for k in definition.key_columns if k not in names]
    if missing:
        raise SyncJobInvalid(
            f"key column {missing[0]!r} is not a column of the source",
            errors=[FieldError("key_columns", f"{k!r} is not a source column") for k in missing],
        )


async def check_sink(
    res: Resources, target: ConnectionTarget, definition: Definition, columns: list[Column]
) -> None:
    sink = definition.sink
    q = res.queries.sync
    async with res.datasource_pools.acquire(target) as conn:
        try:
            existing = [
                r
                async for r in q.relation_columns(
                    conn, schema_name=sink.schema, table_name=sink.table
                )
            ]
            if not existing:
                await _check_creatable(res, conn, sink)
                return
            if existing[0].relkind not in SINK_KINDS:
                raise SyncSinkInvalid(f"sink {sink.schema}.{sink.table} is not a table")
            rights = await q.table_privileges(conn, schema_name=sink.schema, table_name=sink.table)
            unique = (
                await q.has_unique_key(
                    conn,
                    schema_name=sink.schema,
                    table_name=sink.table,
                    columns=list(definition.key_columns),
                )
                if definition.mode == "upsert"
                else True
            )
        except SQL_ERRORS as e:
            raise DatasourceUnreachable(f"cannot read the sink datasource's catalog: {e}") from None
    _check_rights(definition, rights)
    _check_columns(sink, existing, columns)
    if not unique:
        raise SyncSinkInvalid(
            f"upsert needs a unique index on exactly ({', '.join(definition.key_columns)}) in "
            f"{sink.schema}.{sink.table}",
            errors=[FieldError("key_columns", "no unique index on these columns in the sink")],
        )


def _check_rights(definition: Definition, rights: TablePrivilegesRow | None) -> None:
    """The privileges the mode writes with: INSERT; DELETE to overwrite;
    UPDATE and SELECT (ON CONFLICT reads the keys) to upsert."""
    needed = ["INSERT"]
    if definition.mode == "overwrite":
        needed.append("DELETE")
    if definition.mode == "upsert":
        needed += ["UPDATE", "SELECT"]
    have = {
        "INSERT": rights is not None and rights.can_insert,
        "DELETE": rights is not None and rights.can_delete,
        "UPDATE": rights is not None and rights.can_update,
        "SELECT": rights is not None and rights.can_select,
    }
    lacking = [p for p in needed if not have[p]]
    if lacking:
        sink = definition.sink
        raise SyncSinkInvalid(
            f"the sink datasource's user may not {' or '.join(lacking)} on "
            f"{sink.schema}.{sink.table} ({definition.mode} needs {', '.join(needed)})"
        )


async def _check_creatable(res: Resources, conn: asyncpg.Connection, sink: Sink) -> None:
    schema = await res.queries.sync.schema_privileges(conn, schema_name=sink.schema)
    if schema is None:
        raise SyncSinkInvalid(
            f"the sink datasource has no schema {sink.schema} (to create {sink.table} in)"
        )
    if not schema.can_create:
        raise SyncSinkInvalid(
            f"the sink table {sink.schema}.{sink.table} does not exist and the datasource's user "
            f"may not create tables in schema {sink.schema}"
        )


def _check_columns(sink: Sink, existing: list[RelationColumnsRow], columns: list[Column]) -> None:
    by_name = {r.name: r for r in existing}
    problems: list[FieldError] = []
    for c in columns:
        target = by_name.get(c.name)
        if target is None:
            problems.append(
                FieldError(f"sink.columns.{c.name}", "the sink table has no such column")
            )
        elif not fits(c.type_name, target.type_name or ""):
            problems.append(
                FieldError(
                    f"sink.columns.{c.name}",
                    f"source type {c.type_name} does not fit the sink's {target.type_sql}",
                )
            )
    sourced = {c.name for c in columns}
    for r in existing:
        if r.not_null and not r.has_default and r.name not in sourced:
            problems.append(
                FieldError(
                    f"sink.columns.{r.name}",
                    "NOT NULL without a default, and the source does not provide it",
                )
            )
    if problems:
        raise SyncSinkInvalid(
            f"the sink table {sink.schema}.{sink.table} cannot take the source's rows: "
            f"{problems[0].field.removeprefix('sink.columns.')}: {problems[0].message}",
            errors=problems,
        )
