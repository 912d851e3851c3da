"""`lowcode sql vet`: house rules for the named SQL, checked against the migrated schema
(what `sqlc vet` does). `make check-generated` runs it; `make generate` prints
its findings as notes.

Rules:
- `missing-where`: every UPDATE and DELETE has a WHERE.
- `select-star`: no `SELECT *` / `RETURNING *` (a migration would change the row).
- `seq-scan`: with sequential scans disabled (`SET enable_seqscan = off`), the
  statement's generic plan (`EXPLAIN EXECUTE`, `plan_cache_mode =
  force_generic_plan`) has no Seq Scan, i.e. every filter and join can use an
  index, unless the table is declared small in `queries/vet.toml`.
- `insert-returning`: `INSERT … RETURNING` uses `<!` (typed non-optional for a
  single-row VALUES), and `<!` is used for nothing else.

A query waives a rule with a comment naming it and saying why:

    -- @vet-allow seq-scan: counts every user; admin-only and rare

Every violation is printed at once, one `file:line:col: context.name: [rule] …` line each.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiosql.types import SQLOperationType
from sqlglot import exp

from lowcode.codegen.errors import PREPARE_ERRORS
from lowcode.codegen.sqlshape import parse_sql
from lowcode.platform.db import load_queries
from lowcode.platform.sqlfiles import QueryError, QuerySource, scan, shown

RULES = ("missing-where", "select-star", "seq-scan", "insert-returning")
_WAIVER = re.compile(r"(?P<rule>[\w-]+)\s*(?::\s*(?P<reason>.*))?$")


@dataclass(frozen=True)
class Finding:
    rule: str
    where: QueryError

    def __str__(self) -> str:
        w = self.where
        return f"{w.shown_path}:{w.line}:{w.col}: {w.query}: [{self.rule}] {w.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return self.where.sort_key()


@dataclass
class Report:
    violations: list[Finding]
    notes: list[str]
    queries: int
    config_errors: list[str]


def small_tables(queries_dir: Path) -> tuple[dict[str, str], list[str]]:
    """`[small-tables]` of `queries/vet.toml`: table → why it stays small."""
    path = queries_dir / "vet.toml"
    if not path.exists():
        return {}, []
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        return {}, [f"{shown(path, queries_dir.parent)}: {e}"]
    tables = data.get("small-tables", {})
    problems = [
        f'{shown(path, queries_dir.parent)}: small table {name} needs a reason (name = "why")'
        for name, reason in tables.items()
        if not isinstance(reason, str) or not reason.strip()
    ]
    return {k: str(v) for k, v in tables.items()}, problems


def _seq_scans(plan: dict[str, Any]) -> list[str]:
    found = [plan["Relation Name"]] if plan.get("Node Type") == "Seq Scan" else []
    for child in plan.get("Plans", []):
        found.extend(_seq_scans(child))
    return found


async def _plan(conn: asyncpg.Connection, sql: str, params: int) -> dict[str, Any]:
    """The generic plan with sequential scans disabled. The statement text is our
    own query file's, wrapped in PREPARE/EXPLAIN (build-time tooling, no input)."""
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE lowcode_vet AS {sql}")
        try:
            args = ", ".join(["NULL"] * params)
            raw = await conn.fetchval(
                f"EXPLAIN (FORMAT JSON) EXECUTE lowcode_vet{'(' + args + ')' if params else ''}"
            )
        finally:
            await conn.execute("DEALLOCATE lowcode_vet")
        tx_plan: dict[str, Any] = json.loads(raw)[0]["Plan"]
        return tx_plan


def _star_offset(source: QuerySource) -> int | None:
    found = source.find(r"(?:\bSELECT\b|\bRETURNING\b|,)\s*(?:DISTINCT\s+)?(?:\w+\.)?\*")
    if found is None:
        return None
    return source.text.index("*", found)


def _static_findings(source: QuerySource, operation: SQLOperationType, sql: str) -> list[Finding]:
    tree = parse_sql(sql)
    if tree is None:
        return []
    findings: list[Finding] = []
    for node in tree.find_all(exp.Update, exp.Delete):
        if node.args.get("where") is None:
            verb = "UPDATE" if isinstance(node, exp.Update) else "DELETE"
            findings.append(
                Finding(
                    "missing-where",
                    source.error(
                        f"{verb} without WHERE changes every row", source.find(rf"\b{verb}\b")
                    ),
                )
            )
    for node in tree.find_all(exp.Select, exp.Returning):
        if any(
            isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
            for e in node.expressions
        ):
            findings.append(
                Finding(
                    "select-star",
                    source.error(
                        "name the columns: * changes shape when a migration adds one",
                        _star_offset(source),
                    ),
                )
            )
            break
    is_insert_returning = isinstance(tree, exp.Insert) and tree.args.get("returning")
    if operation == SQLOperationType.INSERT_RETURNING and not is_insert_returning:
        findings.append(
            Finding(
                "insert-returning",
                source.error(
                    "<! is for INSERT … RETURNING; use ^ (one row) or no suffix (rows)",
                    source.suffix_offset,
                ),
            )
        )
    if is_insert_returning and source.suffix in ("^", "$"):
        findings.append(
            Finding(
                "insert-returning",
                source.error(
                    f"INSERT … RETURNING takes <! (the house convention), not {source.suffix}",
                    source.suffix_offset,
                ),
            )
        )
    return findings


def _waivers(source: QuerySource) -> tuple[dict[str, int], list[Finding]]:
    waived: dict[str, int] = {}
    problems: list[Finding] = []
    for a in source.annotation("vet-allow"):
        m = _WAIVER.match(a.value)
        rule = m.group("rule") if m else a.value
        if not m or rule not in RULES:
            problems.append(
                Finding(
                    "vet-allow",
                    source.error(f"unknown rule {rule!r} (rules: {', '.join(RULES)})", a.offset),
                )
            )
        elif not (m.group("reason") or "").strip():
            problems.append(
                Finding(
                    "vet-allow",
                    source.error(f"say why: -- @vet-allow {rule}: <reason>", a.offset),
                )
            )
        else:
            waived[rule] = a.offset
    return waived, problems


async def vet(conn: asyncpg.Connection, queries_dir: Path, root: Path | None = None) -> Report:
    """Check every query of `queries_dir` on `conn` (a migrated database)."""
    root = root or queries_dir.parent
    sources = scan(queries_dir, root)
    q = load_queries(queries_dir, root=root)
    order = q.driver_adapter.var_sorted
    small, config_errors = small_tables(queries_dir)
    notes: list[str] = []
    violations: list[Finding] = []
    for source in sources:
        fn = getattr(getattr(q, source.context), source.name)
        waived, problems = _waivers(source)
        violations.extend(problems)
        findings = _static_findings(source, fn.operation, fn.sql)
        if fn.operation != SQLOperationType.SCRIPT:
            try:
                plan = await _plan(conn, fn.sql, len(order.get(source.qname, [])))
            except PREPARE_ERRORS as e:
                findings.append(Finding("prepare", source.error(f"does not plan: {e}")))
            else:
                for table in dict.fromkeys(_seq_scans(plan)):
                    if table in small:
                        continue
                    findings.append(
                        Finding(
                            "seq-scan",
                            source.error(
                                f"scans {table} sequentially: no index serves this filter or "
                                "join (add one in a migration, or waive with a reason)",
                                source.find(rf"\b{re.escape(table)}\b"),
                            ),
                        )
                    )
        used = {f.rule for f in findings}
        violations.extend(f for f in findings if f.rule not in waived)
        for rule, offset in waived.items():
            if rule not in used:
                line, col = source.position(offset)
                notes.append(
                    f"{source.shown_path}:{line}:{col}: {source.qname}: "
                    f"@vet-allow {rule} waives nothing (remove it?)"
                )
    tables = {r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables")}
    notes.extend(
        f"queries/vet.toml: small table {name} does not exist"
        for name in small
        if name not in tables
    )
    return Report(sorted(violations, key=Finding.sort_key), notes, len(sources), config_errors)


def render(report: Report) -> tuple[str, bool]:
    """(text, ok)."""
    lines = [*report.config_errors, *(str(v) for v in report.violations)]
    lines.extend(f"note: {n}" for n in report.notes)
    if report.config_errors and not report.violations:
        lines.append("vet: queries/vet.toml is not valid")
    elif report.violations:
        lines.append(
            f"vet: {len(report.violations)} violation(s) in {report.queries} queries; fix them or "
            "waive one with `-- @vet-allow RULE: reason` in the query's comment"
        )
    else:
        lines.append(f"vet: {report.queries} queries, no violations")
    return "\n".join(lines), not report.violations and not report.config_errors


def run_vet(queries_dir: Path, migrations_dir: Path) -> tuple[str, bool]:
    """Vet on a scratch database migrated from `migrations_dir` (as `make generate`)."""
    import asyncio
    import tempfile

    from lowcode.platform.scratch import migrated_database, postgres_server
    from lowcode.platform.sqlfiles import QueryErrors

    async def run(admin_dsn: str) -> Report:
        async with migrated_database(admin_dsn, migrations_dir, "lowcode_vet") as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                return await vet(conn, queries_dir)
            finally:
                await conn.close()

    with (
        tempfile.TemporaryDirectory(prefix="lowcode-vet-") as tmp,
        postgres_server(Path(tmp), env_var="GENERATE_DATABASE_URL") as admin,
    ):
        try:
            return render(asyncio.run(run(admin)))
        except (QueryError, QueryErrors) as e:
            return str(e), False
