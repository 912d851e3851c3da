"""The SQL service's work, done with sqlglot: parse and transpile here,
validation against a catalog in `validation.py`. Problems with the SQL become
`Diagnostic`s with positions; only malformed requests raise (`BadRequest` →
INVALID_ARGUMENT).

sqlglot facts this relies on (30.x): `ParseError.errors[i]` carries `line` and
the *last* column of the offending token plus its text (`highlight`);
identifiers carry `meta` with 0-based inclusive `start`/`end`; `qualify(...,
validate_qualify_columns=True)` raises on unknown or ambiguous columns but
not on unknown tables, which `validation.py` checks against the catalog.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import TokenType  # type: ignore[attr-defined]

from lowcode_peers.calcite.positions import LineIndex, node_span, unterminated
from lowcode_peers_gen.calcite.v1 import sql_pb2 as pb

log = logging.getLogger("lowcode_peers.calcite")

MAX_SQL_CHARS = 1_000_000
MAX_PARSE_ERRORS = 10

# Names the contract accepts beside sqlglot's own dialect names.
ALIASES = {"postgresql": "postgres", "calcite": "", "ansi": "", "generic": ""}


class BadRequest(ValueError):
    """The request itself is malformed (not the SQL in it)."""


M = TypeVar("M", pb.ParseResponse, pb.ValidateResponse, pb.TranspileResponse)


def guarded(response: type[M]) -> Callable[[Callable[..., M]], Callable[..., M]]:
    """Whatever sqlglot trips over in odd input (a recursion limit, an internal
    assertion) is the SQL's problem, answered as a diagnostic, never a crash."""

    def wrap(fn: Callable[..., M]) -> Callable[..., M]:
        @functools.wraps(fn)
        def run(*args: Any) -> M:
            try:
                return fn(*args)
            except BadRequest:
                raise
            except Exception as e:  # see the docstring
                log.warning("analysis failed", exc_info=e)
                reason = f"the statement could not be analysed ({type(e).__name__})"
                return response(diagnostics=[error("ANALYSIS_FAILED", reason)])

        return run

    return wrap


def resolve_dialect(name: str) -> str:
    key = (name or "").strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    if key and key in {d.value for d in sqlglot.Dialects}:
        return key
    raise BadRequest(f"unknown dialect {name!r}")


def _check_size(sql: str) -> None:
    if len(sql) > MAX_SQL_CHARS:
        raise BadRequest(f"sql is longer than {MAX_SQL_CHARS} characters")


def error(code: str, message: str, span: pb.Span | None = None) -> pb.Diagnostic:
    return pb.Diagnostic(severity=pb.SEVERITY_ERROR, code=code, message=message, span=span)


@dataclass
class Parsed:
    sql: str
    dialect: str
    index: LineIndex
    statements: list[Any] = field(default_factory=list)  # sqlglot expressions
    diagnostics: list[pb.Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity == pb.SEVERITY_ERROR for d in self.diagnostics)


def parse_statements(sql: str, dialect: str) -> Parsed:
    """Every statement in `sql`, or diagnostics saying why not."""
    _check_size(sql)
    parsed = Parsed(sql, dialect, LineIndex.of(sql))
    try:
        trees = sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE)
    except TokenError:
        where = unterminated(sql)
        start, what = where if where else (max(len(sql) - 1, 0), "cannot tokenize the statement")
        span = parsed.index.span(start, max(len(sql) - 1, start))
        parsed.diagnostics.append(error("SYNTAX_ERROR", what, span))
        return parsed
    except ParseError as e:
        for item in e.errors[:MAX_PARSE_ERRORS]:
            token = str(item.get("highlight") or "")
            span = parsed.index.token_span(
                int(item.get("line") or 1), int(item.get("col") or 1), token
            )
            message = _describe(str(item.get("description") or "syntax error"), token)
            parsed.diagnostics.append(error("SYNTAX_ERROR", message, span))
        return parsed
    parsed.statements = [t for t in trees if t is not None]
    if not parsed.statements:
        parsed.diagnostics.append(error("EMPTY_STATEMENT", "no statement in the input"))
    elif len(parsed.statements) > 1:
        parsed.diagnostics.append(
            error(
                "MULTIPLE_STATEMENTS",
                f"expected one statement, found {len(parsed.statements)}",
                _second_statement_span(parsed),
            )
        )
    return parsed


def _describe(description: str, token: str) -> str:
    # sqlglot's internals ("Required keyword: 'this' missing for <class …>")
    # mean "the clause before this token is incomplete" to a SQL author.
    if description.startswith("Required keyword") or description.startswith("Expected table"):
        return f"incomplete expression near '{token}'"
    if description.startswith("Invalid expression / Unexpected token"):
        return f"unexpected '{token}'"
    return f"{description} near '{token}'" if token else description


def _second_statement_span(parsed: Parsed) -> pb.Span | None:
    tokens = Dialect.get_or_raise(parsed.dialect).tokenize(parsed.sql)
    seen_semicolon = False
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.SEMICOLON:
            seen_semicolon = True
        elif seen_semicolon:
            rest = [t for t in tokens[i:] if t.token_type != TokenType.SEMICOLON]
            return parsed.index.span(token.start, rest[-1].end if rest else token.end)
    return None


def statement_kind(tree: exp.Expression) -> Any:  # a pb.StatementKind value
    if isinstance(tree, exp.Query):
        return pb.STATEMENT_KIND_SELECT
    kinds: tuple[tuple[type[exp.Expression], int], ...] = (
        (exp.Insert, pb.STATEMENT_KIND_INSERT),
        (exp.Update, pb.STATEMENT_KIND_UPDATE),
        (exp.Delete, pb.STATEMENT_KIND_DELETE),
        (exp.Merge, pb.STATEMENT_KIND_MERGE),
        (exp.Create, pb.STATEMENT_KIND_DDL),
        (exp.Drop, pb.STATEMENT_KIND_DDL),
        (exp.Alter, pb.STATEMENT_KIND_DDL),
        (exp.TruncateTable, pb.STATEMENT_KIND_DDL),
    )
    for cls, kind in kinds:
        if isinstance(tree, cls):
            return kind
    return pb.STATEMENT_KIND_OTHER


def _dml_target(node: exp.Expression) -> exp.Table | None:
    target = node.this
    if isinstance(target, exp.Schema):  # INSERT INTO t (a, b)
        target = target.this
    return target if isinstance(target, exp.Table) else None


def _written_tables(tree: exp.Expression) -> set[int]:
    """ids of Table nodes a statement writes: DML targets anywhere (a
    data-modifying CTE included) and tables row-locked by FOR UPDATE/SHARE."""
    written: set[int] = set()
    for dml in tree.find_all(exp.Insert, exp.Update, exp.Delete, exp.Merge):
        target = _dml_target(dml)
        if target is not None:
            written.add(id(target))
    for select in tree.find_all(exp.Select):
        locks = select.args.get("locks") or []
        if not locks:
            continue
        sources = [
            t
            for part in (select.args.get("from_"), *(select.args.get("joins") or []))
            if part is not None
            for t in ([part.this] if isinstance(part.this, exp.Table) else [])
        ]
        for lock in locks:
            named = {e.name.lower() for e in lock.expressions}
            for t in sources:
                if not named or t.alias_or_name.lower() in named or t.name.lower() in named:
                    written.add(id(t))
    return written


def table_refs(tree: exp.Expression, index: LineIndex, default_schema: str) -> list[pb.TableRef]:
    """Catalog tables the statement names (CTE names excluded), one per table,
    WRITE when any reference writes it."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    written = _written_tables(tree)
    refs: dict[tuple[str, str], pb.TableRef] = {}
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.db and table.name.lower() in ctes):
            continue
        if table.find_ancestor(exp.Lock) is not None:  # `FOR UPDATE OF o` names an alias
            continue
        key = (table.db or default_schema, table.name)
        access = pb.ACCESS_KIND_WRITE if id(table) in written else pb.ACCESS_KIND_READ
        if key in refs:
            if access == pb.ACCESS_KIND_WRITE:
                refs[key].access = access
            continue
        span = node_span(index, table.this.meta if isinstance(table.this, exp.Expression) else None)
        refs[key] = pb.TableRef(
            schema=key[0], name=table.name, alias=table.alias, access=access, span=span
        )
    return list(refs.values())


def column_refs(tree: exp.Expression) -> list[pb.ColumnRef]:
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}
    seen: dict[tuple[str, str], pb.ColumnRef] = {}
    for column in tree.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            continue
        key = (aliases.get(column.table, column.table), column.name)
        seen.setdefault(key, pb.ColumnRef(table=key[0], name=key[1]))
    return list(seen.values())


def function_refs(tree: exp.Expression, parsed: Parsed) -> list[pb.FunctionRef]:
    """Functions called. Unknown ones (user-defined or vendor functions such as
    `nextval`) are flagged: only the source database knows what they do."""
    refs: dict[str, pb.FunctionRef] = {}
    for func in tree.find_all(exp.Func):
        if isinstance(func, exp.Anonymous):
            name = str(func.name)
            refs.setdefault(
                name.lower(),
                pb.FunctionRef(name=name, user_defined=True, span=_call_span(parsed, name)),
            )
        elif not isinstance(func, exp.Cast):
            name = func.sql_name().lower()
            refs.setdefault(name, pb.FunctionRef(name=name, user_defined=False))
    return list(refs.values())


def _call_span(parsed: Parsed, name: str) -> pb.Span | None:
    tokens = Dialect.get_or_raise(parsed.dialect).tokenize(parsed.sql)
    for token, nxt in itertools.pairwise(tokens):
        if token.text.lower() == name.lower() and nxt.token_type == TokenType.L_PAREN:
            return parsed.index.span(token.start, token.end)
    return None


@guarded(pb.ParseResponse)
def parse(sql: str, dialect_name: str) -> pb.ParseResponse:
    dialect = resolve_dialect(dialect_name)
    parsed = parse_statements(sql, dialect)
    response = pb.ParseResponse(
        statement_count=len(parsed.statements), diagnostics=parsed.diagnostics
    )
    if not parsed.statements:
        return response
    tree = parsed.statements[0]
    response.kind = statement_kind(tree)
    response.tables.extend(table_refs(tree, parsed.index, ""))
    response.columns.extend(column_refs(tree))
    response.functions.extend(function_refs(tree, parsed))
    response.normalized_sql = tree.sql(dialect=dialect)
    return response


# --- transpilation ------------------------------------------------------------------


@guarded(pb.TranspileResponse)
def transpile(sql: str, from_name: str, to_name: str, pretty: bool) -> pb.TranspileResponse:
    source, target = resolve_dialect(from_name), resolve_dialect(to_name)
    parsed = parse_statements(sql, source)
    errors = [d for d in parsed.diagnostics if d.code != "MULTIPLE_STATEMENTS"]
    if errors or not parsed.statements:
        return pb.TranspileResponse(diagnostics=errors or parsed.diagnostics)
    outputs: list[str] = []
    warnings: list[str] = []
    for tree in parsed.statements:
        generator = Dialect.get_or_raise(target).generator(
            unsupported_level=ErrorLevel.IGNORE, pretty=pretty
        )
        outputs.append(generator.generate(tree, copy=True))
        warnings.extend(_unique(generator.unsupported_messages))
    joiner = ";\n\n" if pretty else "; "
    return pb.TranspileResponse(sql=joiner.join(outputs), warnings=_unique(warnings))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
