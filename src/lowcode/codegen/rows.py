"""Shared row types: one type for every query that returns the same shape.

As sqlc reuses a table's model, a query whose columns are exactly a table's
(names, order, types, nullability) returns that table's row type
(`page_comments` → `PageCommentRow`). Any other shape can be shared by naming
it: `-- @row PageSummaryRow` on each query; their shapes must then be equal,
else generation says which column differs. Shared types live in
`lowcode_gen/queries/_rows.py`; each query's own name (`ListCommentsRow`)
stays as an alias of the shared type, so code written against it still works.
"""

from __future__ import annotations

import re

from lowcode.codegen.model import Column, Query
from lowcode.codegen.sqlshape import referenced_tables
from lowcode.platform.sqlfiles import QueryError

_IDENTIFIER = re.compile(r"[A-Z][A-Za-z0-9]*")


def singular(word: str) -> str:
    """Enough English for table names: `page_comments` → `page_comment`."""
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def table_row_name(table: str) -> str:
    parts = table.split("_")
    parts[-1] = singular(parts[-1])
    return "".join(p.capitalize() for p in parts) + "Row"


def _table_match(query: Query, tables: dict[str, list[Column]]) -> str | None:
    for table in referenced_tables(query.sql):
        if tables.get(table) == query.columns:
            return table_row_name(table)
    return None


def _difference(a: list[Column], b: list[Column]) -> str:
    if [c.name for c in a] != [c.name for c in b]:
        return f"columns ({', '.join(c.name for c in a)}) vs ({', '.join(c.name for c in b)})"
    diffs = [
        f"{x.name}: {x.annotation()} vs {y.annotation()}"
        for x, y in zip(a, b, strict=True)
        if x != y
    ]
    return "; ".join(diffs)


def assign_row_types(queries: list[Query], tables: dict[str, list[Column]]) -> list[QueryError]:
    """Set `row_type`/`shared_row` on every query that returns rows; return the
    conflicts (two shapes under one name, a name taken by another query)."""
    errors: list[QueryError] = []
    groups: dict[str, list[Query]] = {}
    for q in queries:
        if not q.returns_rows:
            continue
        annotations = q.source.annotation("row")
        if annotations:
            name = annotations[0].value.strip()
            if not _IDENTIFIER.fullmatch(name):
                errors.append(
                    q.source.error(
                        f"@row {name!r}: a row type is a CamelCase name such as PageSummaryRow",
                        annotations[0].offset,
                    )
                )
                continue
        else:
            name = _table_match(q, tables) or ""
        q.row_type, q.shared_row = (name, True) if name else (q.row_class, False)
        if name:
            groups.setdefault(name, []).append(q)
    own = {q.row_class: q for q in queries if q.returns_rows and not q.shared_row}
    for name, members in groups.items():
        first = members[0]
        if name in own:
            errors.append(
                first.source.error(
                    f"row type {name} is also the name of {own[name].source.qname}'s own row "
                    "type; pick another name",
                    _offset(first),
                )
            )
        for other in members[1:]:
            if other.columns != first.columns:
                errors.append(
                    other.source.error(
                        f"@row {name}: this shape differs from {first.source.qname} "
                        f"({first.source.shown_path}:{first.source.line}): "
                        f"{_difference(other.columns, first.columns)}",
                        _offset(other),
                    )
                )
    return errors


def _offset(q: Query) -> int | None:
    annotations = q.source.annotation("row")
    return annotations[0].offset if annotations else None
