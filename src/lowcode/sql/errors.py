from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lowcode.platform.errors import FieldError, Unprocessable
from lowcode.sql.models import Diagnostic


@dataclass(frozen=True, slots=True)
class SqlFieldError(FieldError):
    """A diagnostic as one of a problem's `errors[]`: where in the SQL, and why."""

    code: str = "SYNTAX_ERROR"
    severity: str = "error"
    diagnostic: Diagnostic | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"field": self.field, "in": self.location, "message": self.message}
        if self.diagnostic is not None:
            body.update(self.diagnostic.to_api())
            body["message"] = self.message
        return body


class InvalidSql(Unprocessable):
    """The SQL has errors; every error diagnostic is in `errors[]` with its position."""

    code = "INVALID_SQL"

    def __init__(
        self, diagnostics: Iterable[Diagnostic], *, field: str = "sql", detail: str | None = None
    ) -> None:
        errors = [d for d in diagnostics if d.is_error]
        first = errors[0] if errors else None
        where = (
            f" at line {first.span.start_line}, column {first.span.start_column}"
            if first is not None and first.span is not None
            else ""
        )
        super().__init__(
            detail or (f"{first.message}{where}" if first else "the SQL is not valid"),
            errors=[SqlFieldError(field, d.message, "body", d.code, d.severity, d) for d in errors],
        )
