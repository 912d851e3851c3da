"""What codegen knows about one named query: its parameters and result columns.

A leaf module: `queries` (which describes them), `rows` (which names shared row
types) and `render` (which writes Python) all read these, so none of them has to
import another for its types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiosql.types import SQLOperationType

from lowcode.platform.sqlfiles import QuerySource


class GenerationError(Exception):
    pass


@dataclass(frozen=True)
class Column:
    name: str
    py: str
    nullable: bool

    def annotation(self) -> str:
        return f"{self.py} | None" if self.nullable and self.py not in ("Any", "None") else self.py


@dataclass
class Query:
    source: QuerySource
    operation: SQLOperationType
    sql: str
    params: list[Column] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    # `SELECT count(…)` without GROUP BY: exactly one row, never NULL.
    counts_only: bool = False
    # A single-row INSERT … VALUES … RETURNING that nothing can suppress.
    always_one_row: bool = False
    # The row type's name; several queries may share one (see rows.py).
    row_type: str = ""
    shared_row: bool = False

    @property
    def context(self) -> str:
        return self.source.context

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def file(self) -> Path:
        return self.source.path

    @property
    def row_class(self) -> str:
        """The per-query name (`ListCommentsRow`); an alias when the type is shared."""
        return "".join(p.capitalize() for p in self.name.split("_")) + "Row"

    @property
    def returns_rows(self) -> bool:
        if self.operation in (SQLOperationType.SELECT, SQLOperationType.SELECT_ONE):
            return bool(self.columns)
        return self.operation == SQLOperationType.INSERT_RETURNING and len(self.columns) > 1
