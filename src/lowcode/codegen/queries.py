"""Typed interfaces for the named SQL in `queries/` — what sqlc does for Go.

Every query is prepared against a freshly migrated database; Postgres tells us
parameter and column types. Column nullability is not in the protocol's
answer that asyncpg exposes, so it is derived from the schema: a result column
that is a plain reference to a NOT NULL table column (and not on the nullable
side of an outer join) is non-optional; `count(...)` is non-optional; every
other expression is optional. Parameters are non-optional. A query's comment
can override: `-- @nullable-params a, b`, `-- @nullable-columns c`,
`-- @notnull-columns d`.

Each suffix is checked against the prepared statement's shape (`$` exactly one
column, `^` and `<!` at least one, `!` and `*!` none, no suffix some). A
single-row `INSERT … VALUES (…) RETURNING` (or `INSERT … SELECT <expressions>`,
no FROM or WHERE) with `<!` and no ON CONFLICT DO NOTHING is typed non-optional.
Result shapes shared by several queries get one row type (`rows.py`).

Every problem is one `file:line:col: context.name: message` line
(`lowcode.platform.sqlfiles.QueryError`); all of them are reported at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg

from lowcode.codegen.errors import PREPARE_ERRORS, prepare_error
from lowcode.codegen.model import Column, Query
from lowcode.codegen.render import render_context, render_index, render_rows
from lowcode.codegen.rows import assign_row_types
from lowcode.codegen.sql_types import python_type
from lowcode.codegen.sqlshape import (
    _always_one_row,
    _counts_only,
    _non_null_outputs,
)
from lowcode.platform.db import load_queries
from lowcode.platform.sqlfiles import QueryError, QueryErrors, QuerySource, scan


def _overrides(source: QuerySource) -> dict[str, dict[str, bool]]:
    """`{"params"|"columns": {name: nullable}}` from the override lines of one query."""
    result: dict[str, dict[str, bool]] = {"params": {}, "columns": {}}
    for a in source.annotations:
        if a.key not in ("nullable-params", "nullable-columns", "notnull-columns"):
            continue
        target = "params" if a.key == "nullable-params" else "columns"
        for item in a.value.split(","):
            result[target][item.strip()] = a.key != "notnull-columns"
    return result


async def _not_null_columns(conn: asyncpg.Connection) -> dict[str, set[str]]:
    rows = await conn.fetch(
        """
        SELECT c.relname, a.attname
          FROM pg_attribute a
          JOIN pg_class c     ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND a.attnum > 0
           AND NOT a.attisdropped AND a.attnotnull
        """
    )
    result: dict[str, set[str]] = {}
    for r in rows:
        result.setdefault(r["relname"], set()).add(r["attname"])
    return result


async def table_shapes(conn: asyncpg.Connection) -> dict[str, list[Column]]:
    """Every table's columns in order, typed as a query selecting them would be."""
    rows = await conn.fetch(
        """
        SELECT c.relname, a.attname, t.typname, t.typtype, t.typcategory, a.attnotnull
          FROM pg_attribute a
          JOIN pg_class c     ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_type t      ON t.oid = a.atttypid
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
           AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY c.relname, a.attnum
        """
    )
    shapes: dict[str, list[Column]] = {}
    for r in rows:
        kind = {"e": "enum", "d": "domain"}.get(r["typtype"], "scalar")
        if r["typcategory"] == "A":
            kind = "array"
        shapes.setdefault(r["relname"], []).append(
            Column(r["attname"], python_type(r["typname"], kind), not r["attnotnull"])
        )
    return shapes


async def _suppressible_inserts(conn: asyncpg.Connection) -> set[str]:
    """Tables where an INSERT may not produce its row: a BEFORE INSERT row trigger
    can return NULL, a rule can rewrite the INSERT."""
    rows = await conn.fetch(
        """
        SELECT c.relname
          FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
         WHERE NOT g.tgisinternal AND (g.tgtype & 7) = 7
        UNION
        SELECT tablename FROM pg_rules WHERE schemaname = current_schema()
        """
    )
    return {r[0] for r in rows}


def _columns_text(columns: list[Column]) -> str:
    names = ", ".join(c.name for c in columns[:6]) + (", …" if len(columns) > 6 else "")
    return f"{len(columns)} column{'s' if len(columns) != 1 else ''} ({names})"


def shape_error(query: Query) -> QueryError | None:
    """The suffix against what the prepared statement returns."""
    n, suffix, source = len(query.columns), query.source.suffix, query.source
    at = source.suffix_offset
    if suffix == "$" and n != 1:
        what = _columns_text(query.columns) if n else "no columns"
        return source.error(
            f"suffix $ (one value) needs exactly one column, the statement returns {what}; "
            "use ^ for one row or no suffix for rows",
            at,
        )
    if suffix in ("^", "<!") and n == 0:
        return source.error(
            f"suffix {suffix} needs a row, the statement returns no columns; "
            "add RETURNING …, or use ! for the affected-row count",
            at,
        )
    if suffix in ("!", "*!") and n:
        return source.error(
            f"suffix {suffix} discards the {_columns_text(query.columns)} the statement "
            "returns; use <! (INSERT … RETURNING), ^ (one row) or no suffix (rows)",
            at,
        )
    if suffix == "" and n == 0:
        return source.error(
            "without a suffix a query returns rows, but this statement returns no columns; "
            "use ! for the affected-row count",
            at,
        )
    return None


async def describe_queries(
    conn: asyncpg.Connection, queries_dir: Path, root: Path | None = None
) -> list[Query]:
    """Prepare every query and describe its parameters and columns; raise
    `QueryErrors` listing every query that does not prepare or fit its suffix."""
    sources = scan(queries_dir, root)
    q = load_queries(queries_dir, root=root)
    adapter = q.driver_adapter
    not_null = await _not_null_columns(conn)
    suppressible = await _suppressible_inserts(conn)
    described: list[Query] = []
    errors: list[QueryError] = []
    for source in sorted(sources, key=lambda s: (s.context, s.name)):
        fn = getattr(getattr(q, source.context), source.name)
        order = list(adapter.var_sorted.get(source.qname, []))
        try:
            stmt = await conn.prepare(fn.sql)
        except PREPARE_ERRORS as e:
            errors.append(prepare_error(source, fn.sql, e, order))
            continue
        ptypes = stmt.get_parameters()
        if len(ptypes) != len(order):
            errors.append(
                source.error(
                    f"the statement has {len(ptypes)} parameters but names {len(order)} "
                    "(:name parameters only; no $n in query files)"
                )
            )
            continue
        overrides = _overrides(source)
        certain = _non_null_outputs(fn.sql, not_null)
        query = Query(
            source,
            fn.operation,
            fn.sql,
            [
                Column(n, python_type(t.name, t.kind), overrides["params"].get(n, False))
                for n, t in zip(order, ptypes, strict=True)
            ],
            [
                Column(
                    a.name,
                    python_type(a.type.name, a.type.kind),
                    overrides["columns"].get(a.name, a.name not in certain),
                )
                for a in stmt.get_attributes()
            ],
            counts_only=_counts_only(fn.sql),
            always_one_row=_always_one_row(fn.sql, suppressible),
        )
        if problem := shape_error(query):
            errors.append(problem)
            continue
        described.append(query)
    errors.extend(assign_row_types(described, await table_shapes(conn)))
    if errors:
        raise QueryErrors(errors)
    return described


async def generate(dsn: str, queries_dir: Path, out_dir: Path, root: Path) -> list[Path]:
    conn = await asyncpg.connect(dsn)
    try:
        described = await describe_queries(conn, queries_dir, root)
    finally:
        await conn.close()
    by_context: dict[str, list[Query]] = {}
    for q in described:
        by_context.setdefault(q.context, []).append(q)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    rows = out_dir / "_rows.py"
    rows.write_text(render_rows(described, root))
    written.append(rows)
    for context, qs in sorted(by_context.items()):
        path = out_dir / f"{context}.py"
        path.write_text(render_context(context, qs, root))
        written.append(path)
    index = out_dir / "__init__.py"
    index.write_text(render_index(sorted(by_context)))
    written.append(index)
    return written


def main(argv: list[str] | None = None) -> Any:
    import argparse
    import asyncio
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--root", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    try:
        written = asyncio.run(generate(args.dsn, args.queries, args.out, args.root.resolve()))
    except (QueryError, QueryErrors) as e:
        print(e, file=sys.stderr)
        sys.exit(1)
    for p in written:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
