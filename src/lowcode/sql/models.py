"""What the SQL service answers, as the rest of the code sees it (no generated types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Dialects the REST API accepts; the peer maps each to its parser.
DIALECTS = (
    "postgres", "mysql", "bigquery", "snowflake", "spark", "duckdb", "sqlite", "tsql",
    "oracle", "redshift", "trino", "calcite",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Span:
    """1-based inclusive lines/columns; 0-based inclusive offsets."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    start_offset: int
    end_offset: int

    def to_api(self) -> dict[str, int]:
        return {
            "line": self.start_line,
            "column": self.start_column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "start_offset": self.start_offset,
            "end_offset": self.end_offset,
        }


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: str  # error | warning | info
    code: str
    message: str
    span: Span | None = None
    expected: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }
        if self.span is not None:
            body.update(self.span.to_api())
        if self.expected:
            body["expected"] = list(self.expected)
        return body


@dataclass(frozen=True, slots=True)
class TableRef:
    schema: str
    name: str
    alias: str
    access: str  # read | write
    span: Span | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "name": self.name,
            "alias": self.alias,
            "access": self.access,
        }


@dataclass(frozen=True, slots=True)
class ColumnRef:
    table: str
    name: str

    def to_api(self) -> dict[str, Any]:
        return {"table": self.table, "name": self.name}


@dataclass(frozen=True, slots=True)
class OutputColumn:
    name: str
    type: str

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True, slots=True)
class FunctionRef:
    name: str
    user_defined: bool
    span: Span | None = None

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "user_defined": self.user_defined}


@dataclass(frozen=True, slots=True)
class Analysis:
    """A Parse or Validate answer (Validate also fills `output_columns`)."""

    kind: str  # select | insert | update | delete | merge | ddl | other | unspecified
    statement_count: int
    normalized_sql: str
    tables: tuple[TableRef, ...] = ()
    columns: tuple[ColumnRef, ...] = ()
    functions: tuple[FunctionRef, ...] = ()
    output_columns: tuple[OutputColumn, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def written_tables(self) -> list[TableRef]:
        return [t for t in self.tables if t.access == "write"]

    def to_api(self, *, validated: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "statement_count": self.statement_count,
            "normalized_sql": self.normalized_sql,
            "tables": [t.to_api() for t in self.tables],
            "columns": [c.to_api() for c in self.columns],
            "functions": [f.to_api() for f in self.functions],
            "diagnostics": [d.to_api() for d in self.diagnostics],
        }
        if validated:
            body["output_columns"] = [c.to_api() for c in self.output_columns]
        return body


@dataclass(frozen=True, slots=True)
class Transpiled:
    sql: str
    warnings: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

    def to_api(self) -> dict[str, Any]:
        return {"sql": self.sql, "warnings": list(self.warnings)}


@dataclass(frozen=True, slots=True)
class CatalogColumn:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class CatalogTable:
    schema: str
    name: str
    columns: tuple[CatalogColumn, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Tables → columns → types a statement is validated against."""

    default_schema: str
    tables: tuple[CatalogTable, ...] = ()

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Catalog:
        default = body.get("default_schema") or "public"
        return cls(
            default,
            tuple(
                CatalogTable(
                    t.get("schema") or default,
                    t["name"],
                    tuple(
                        CatalogColumn(
                            c["name"], c.get("type") or "unknown", c.get("nullable", True)
                        )
                        for c in t.get("columns", [])
                    ),
                )
                for t in body.get("tables", [])
            ),
        )
