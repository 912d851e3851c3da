"""Validate: a statement against an inline catalog, with sqlglot's `qualify`
(unknown and ambiguous columns) and an explicit check of every table
(`qualify` does not flag unknown tables)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from lowcode_peers.calcite.analysis import (
    BadRequest,
    Parsed,
    column_refs,
    error,
    function_refs,
    guarded,
    parse_statements,
    resolve_dialect,
    statement_kind,
    table_refs,
)
from lowcode_peers.calcite.positions import node_span
from lowcode_peers_gen.calcite.v1 import sql_pb2 as pb

MAX_CATALOG_COLUMNS = 200_000
UNKNOWN_TYPE = "UNKNOWN"


@dataclass
class CatalogView:
    """The request's catalog as sqlglot wants it, plus a case-insensitive lookup."""

    default_schema: str
    mapping: MappingSchema  # {schema: {table: {column: type}}}, built once per request
    tables: dict[tuple[str, str], set[str]]

    @classmethod
    def of(cls, catalog: pb.Catalog, dialect: str) -> CatalogView:
        if sum(len(t.columns) for t in catalog.tables) > MAX_CATALOG_COLUMNS:
            raise BadRequest(f"the catalog has more than {MAX_CATALOG_COLUMNS} columns")
        default = catalog.default_schema or "public"
        mapping: dict[str, Any] = {}
        tables: dict[tuple[str, str], set[str]] = {}
        for table in catalog.tables:
            schema = table.schema or default
            cols = mapping.setdefault(schema, {}).setdefault(table.name, {})
            for column in table.columns:
                cols[column.name] = _type_name(column.type, dialect)
            tables[(schema.lower(), table.name.lower())] = {c.lower() for c in cols}
        return cls(default, MappingSchema(mapping, dialect=dialect), tables)

    def has(self, ref: pb.TableRef) -> bool:
        return ((ref.schema or self.default_schema).lower(), ref.name.lower()) in self.tables


@functools.lru_cache(maxsize=4096)
def _type_name(raw: str, dialect: str) -> str:
    try:
        return exp.DataType.build(raw, dialect=dialect).sql(dialect=dialect)
    except (SqlglotError, ValueError):
        return UNKNOWN_TYPE


_UNRESOLVED = re.compile(
    r"Column '(?P<name>[^']+)' could not be resolved(?:\. Line: (?P<line>\d+), Col: (?P<col>\d+))?"
)
_UNKNOWN = re.compile(r"Unknown column: (?P<name>\S+)")


def _column_diagnostic(
    err: OptimizeError,
    tree: exp.Expression,
    parsed: Parsed,
    catalog: CatalogView,
    refs: list[pb.TableRef],
) -> pb.Diagnostic:
    text = str(err)
    match = _UNRESOLVED.search(text) or _UNKNOWN.search(text)
    if not match:
        return error("VALIDATION_ERROR", text[:500])
    name = match.group("name")
    line = match.groupdict().get("line")
    col = match.groupdict().get("col")
    node = _find_column(tree, name, int(line) if line else None, int(col) if col else None)
    span = node_span(parsed.index, node.this.meta if node is not None else None)
    holders = [
        r.name
        for r in refs
        if name.lower()
        in catalog.tables.get(((r.schema or catalog.default_schema).lower(), r.name.lower()), set())
    ]
    if len(holders) > 1 and (node is None or not node.table):
        return error(
            "AMBIGUOUS_COLUMN",
            f"column '{name}' is ambiguous: it is in {', '.join(sorted(holders))}",
            span,
        )
    return error("UNKNOWN_COLUMN", f"column '{name}' not found in any table in scope", span)


def _find_column(
    tree: exp.Expression, name: str, line: int | None, col: int | None
) -> exp.Column | None:
    candidates = [c for c in tree.find_all(exp.Column) if c.name.lower() == name.lower()]
    for c in candidates:
        meta = c.this.meta if isinstance(c.this, exp.Expression) else {}
        if line is None or (meta.get("line") == line and meta.get("col") == col):
            return c
    return candidates[0] if candidates else None


def _output_columns(
    tree: exp.Expression, catalog: CatalogView, dialect: str
) -> list[pb.OutputColumn]:
    if not isinstance(tree, exp.Query):
        return []
    annotated = annotate_types(tree, schema=catalog.mapping, dialect=dialect)
    columns = []
    for projection in annotated.selects:
        typ = projection.type
        name = typ.sql(dialect=dialect) if typ is not None else UNKNOWN_TYPE
        columns.append(pb.OutputColumn(name=projection.alias_or_name, type=name or UNKNOWN_TYPE))
    return columns


@guarded(pb.ValidateResponse)
def validate(sql: str, dialect_name: str, catalog: pb.Catalog) -> pb.ValidateResponse:
    dialect = resolve_dialect(dialect_name)
    view = CatalogView.of(catalog, dialect)
    parsed = parse_statements(sql, dialect)
    response = pb.ValidateResponse(
        statement_count=len(parsed.statements), diagnostics=parsed.diagnostics
    )
    if not parsed.ok or not parsed.statements:
        return response
    tree = parsed.statements[0]
    response.kind = statement_kind(tree)
    refs = table_refs(tree, parsed.index, view.default_schema)
    response.tables.extend(refs)
    response.functions.extend(function_refs(tree, parsed))
    missing = [r for r in refs if not view.has(r)]
    for ref in missing:
        response.diagnostics.append(
            error("UNKNOWN_TABLE", f"table '{ref.schema}.{ref.name}' not found", ref.span)
        )
    if missing:
        return response
    try:
        qualified = qualify(
            tree.copy(),
            schema=view.mapping,
            dialect=dialect,
            db=view.default_schema,
            validate_qualify_columns=True,
        )
    except OptimizeError as e:
        response.diagnostics.append(_column_diagnostic(e, tree, parsed, view, refs))
        return response
    response.columns.extend(column_refs(qualified))
    response.output_columns.extend(_output_columns(qualified, view, dialect))
    response.normalized_sql = qualified.sql(dialect=dialect)
    return response
