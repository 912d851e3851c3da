"""What the statement's text says, read with sqlglot: which output columns are
certainly not NULL, whether an INSERT always returns its row, which tables it
reads. Postgres' prepare answer has types but none of this."""

from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp


@functools.lru_cache(maxsize=4096)
def parse_sql(sql: str) -> exp.Expr | None:
    """The statement's tree, parsed once per run (callers only read it): parsing
    is most of generation's Python time."""
    try:
        return sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return None


def referenced_tables(sql: str) -> list[str]:
    tree = parse_sql(sql)
    return [] if tree is None else list(dict.fromkeys(t.name for t in tree.find_all(exp.Table)))


def _non_null_outputs(sql: str, not_null: dict[str, set[str]]) -> set[str]:
    """Output names that are certainly not NULL, from the statement's structure."""
    tree = parse_sql(sql)
    if tree is None:
        return set()
    aliases: dict[str, str] = {}
    for table in tree.find_all(exp.Table):
        aliases[table.alias_or_name] = table.name
        aliases[table.name] = table.name
    nullable_side: set[str] = set()
    joins = tree.args.get("joins") or []
    for j in joins:
        side = (j.side or "").upper()
        if side in ("LEFT", "FULL"):
            nullable_side.add(j.this.alias_or_name)
        if side in ("RIGHT", "FULL"):
            return set()  # everything before the join may be NULL; stay conservative
    if isinstance(tree, exp.Select):
        outputs = list(tree.expressions)
        default_table = None
    else:
        returning = tree.args.get("returning")
        outputs = list(returning.expressions) if returning else []
        target = tree.this
        target_table = target.this if isinstance(target, exp.Schema) else target
        default_table = target_table.name if isinstance(target_table, exp.Table) else None
    referenced = {aliases[a] for a in aliases}
    result: set[str] = set()
    for out in outputs:
        inner = out.this if isinstance(out, exp.Alias) else out
        name = out.alias_or_name
        if isinstance(inner, exp.Count):
            result.add(name)
        elif isinstance(inner, exp.Column):
            qual = inner.table
            if qual and qual in nullable_side:
                continue
            tables = (
                [aliases[qual]]
                if qual in aliases
                else ([default_table] if default_table else sorted(referenced))
            )
            holders = [t for t in tables if inner.name in not_null.get(t, set())]
            if holders and not (qual == "" and default_table is None and len(referenced) > 1):
                result.add(name)
    return result


def _counts_only(sql: str) -> bool:
    tree = parse_sql(sql)
    return (
        isinstance(tree, exp.Select)
        and not tree.args.get("group")
        and all(
            isinstance(e.this if isinstance(e, exp.Alias) else e, exp.Count)
            for e in tree.expressions
        )
    )


# Clauses after which a SELECT may give no row (or more than one).
_ROW_COUNT_CLAUSES = ("from", "from_", "where", "group", "having", "limit", "offset", "qualify")


def _one_row_source(source: exp.Expr | None) -> bool:
    """`VALUES (one row)`, or a SELECT of expressions alone (no FROM, no WHERE):
    exactly one row to insert, whatever the parameters."""
    if isinstance(source, exp.Values):
        return len(source.expressions) == 1
    if isinstance(source, exp.Select):
        return not any(source.args.get(k) for k in _ROW_COUNT_CLAUSES)
    return False


def _always_one_row(sql: str, suppressible: set[str]) -> bool:
    """`INSERT … VALUES (one row) RETURNING …` (or `INSERT … SELECT <expressions>`,
    without FROM or WHERE) without ON CONFLICT DO NOTHING (or a DO UPDATE …
    WHERE), on a table no trigger or rule can make skip the row."""
    tree = parse_sql(sql)
    if not isinstance(tree, exp.Insert) or not tree.args.get("returning"):
        return False
    if not _one_row_source(tree.expression):
        return False
    conflict = tree.args.get("conflict")
    if conflict is not None:
        action = str(conflict.args.get("action") or "").upper()
        if "UPDATE" not in action or conflict.args.get("where") is not None:
            return False
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    return isinstance(target, exp.Table) and target.name not in suppressible
