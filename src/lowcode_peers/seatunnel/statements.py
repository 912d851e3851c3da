"""The statements the copy runs. Catalog reads are fixed SQL with parameters;
statements that name the job's tables and columns are built as sqlglot
expressions, so every identifier is quoted by the library, never pasted in.

Column types for a table the peer creates come from the source server's
`format_type()` and are accepted only when they are built-in types spelled as
PostgreSQL spells them (checked by `TYPE_SQL`); anything else becomes `text`,
which COPY's text format carries unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

# format_type() of a built-in type: "integer", "character varying(20)",
# "timestamp(3) with time zone", "numeric(10,2)[]", "interval day to second(3)", "\"char\"".
TYPE_SQL = re.compile(
    r'^(?:"char"|[a-z][a-z0-9_ ]{0,62}(?:\(\d{1,4}(?:,\d{1,4})?\))?(?: with(?:out)? time zone)?)'
    r"(?:\[\])*$"
)

# Columns of a table (or view) with their types as the server spells them.
TABLE_COLUMNS = """
SELECT a.attname                                   AS name,
       format_type(a.atttypid, a.atttypmod)        AS type_sql,
       t.typnamespace = 'pg_catalog'::regnamespace AS builtin,
       c.relkind::text                             AS relkind
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
  JOIN pg_catalog.pg_type t      ON t.oid = a.atttypid
 WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum
"""

# The types of a prepared query's columns, by oid, in order.
TYPE_NAMES = """
SELECT format_type(t.oid, NULL)                    AS type_sql,
       t.typnamespace = 'pg_catalog'::regnamespace AS builtin
  FROM unnest($1::oid[]) WITH ORDINALITY AS u (oid, i)
  JOIN pg_catalog.pg_type t ON t.oid = u.oid
 ORDER BY u.i
"""

# Whether a unique index covers exactly these columns (ON CONFLICT needs one).
HAS_UNIQUE_KEY = """
SELECT EXISTS (
  SELECT 1
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class c     ON c.oid = i.indrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indpred IS NULL
     AND i.indexprs IS NULL
     AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
            FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey))
         = (SELECT array_agg(k ORDER BY k) FROM unnest($3::text[]) AS k)
)
"""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_sql: str  # a checked built-in type, or "text"


def column(name: str, type_sql: str, builtin: bool) -> Column:
    """A column to create; types the sink cannot be trusted to have become text."""
    return Column(name, type_sql if builtin and TYPE_SQL.match(type_sql) else "text")


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _table(schema: str | None, name: str) -> exp.Table:
    return exp.Table(this=_ident(name), db=_ident(schema) if schema else None)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=_ident(name), table=exp.to_identifier(table) if table else None)


def _column_defs(columns: list[Column]) -> list[exp.Expression]:
    # USERDEFINED with the text as its kind renders the type verbatim; it was
    # checked against TYPE_SQL (sqlglot's own type names lose precision, e.g.
    # `bit varying(5)` would come out as BIT).
    return [
        exp.ColumnDef(
            this=_ident(c.name),
            kind=exp.DataType(this=exp.DataType.Type.USERDEFINED, kind=c.type_sql),
        )
        for c in columns
    ]


def create_table(schema: str, name: str, columns: list[Column], keys: tuple[str, ...]) -> str:
    """CREATE TABLE IF NOT EXISTS with the columns (and a primary key on `keys`)."""
    parts = _column_defs(columns)
    if keys:
        parts.append(exp.PrimaryKey(expressions=[_ident(k) for k in keys]))
    return exp.Create(
        kind="TABLE", exists=True, this=exp.Schema(this=_table(schema, name), expressions=parts)
    ).sql(dialect="postgres")


def create_staging(name: str, schema: str, table: str, columns: list[str]) -> str:
    """A session-private table the rows are copied into before an upsert, with
    the sink's own column types (CREATE TEMPORARY TABLE … AS SELECT … LIMIT 0)."""
    return exp.Create(
        kind="TABLE",
        this=_table(None, name),
        expression=exp.select(*[_col(c) for c in columns]).from_(_table(schema, table)).limit(0),
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    ).sql(dialect="postgres")


def select_columns(schema: str, table: str, columns: list[str]) -> str:
    """A table source read as a query: COPY (…) TO works for views, partitioned
    and foreign tables too, where COPY table TO does not."""
    return (
        exp.select(*[_col(c) for c in columns]).from_(_table(schema, table)).sql(dialect="postgres")
    )


def drop_table(name: str) -> str:
    return exp.Drop(kind="TABLE", tables=[_table(None, name)]).sql(dialect="postgres")


def delete_all(schema: str, name: str) -> str:
    """DELETE, not TRUNCATE: readers keep seeing the old rows until the copy
    commits instead of waiting on TRUNCATE's ACCESS EXCLUSIVE lock."""
    return exp.delete(_table(schema, name)).sql(dialect="postgres")


def upsert_from(
    staging: str, schema: str, name: str, columns: list[str], keys: tuple[str, ...]
) -> str:
    """INSERT … SELECT … FROM staging ON CONFLICT (keys) DO UPDATE the other columns."""
    rest = [c for c in columns if c not in keys]
    conflict = (
        exp.OnConflict(
            conflict_keys=[_ident(k) for k in keys],
            action=exp.var("DO UPDATE"),
            expressions=[exp.EQ(this=_col(c), expression=_col(c, "EXCLUDED")) for c in rest],
        )
        if rest
        else exp.OnConflict(conflict_keys=[_ident(k) for k in keys], action=exp.var("DO NOTHING"))
    )
    return exp.Insert(
        this=exp.Schema(this=_table(schema, name), expressions=[_ident(c) for c in columns]),
        expression=exp.select(*[_col(c) for c in columns]).from_(_table(None, staging)),
        conflict=conflict,
    ).sql(dialect="postgres")
