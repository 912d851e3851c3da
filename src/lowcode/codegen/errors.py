"""What the database's refusals mean to codegen: a statement that does not
prepare or plan is a problem of that query file, reported at its line."""

from __future__ import annotations

import re

import asyncpg

from lowcode.platform.sqlfiles import QueryError, QuerySource

# The server refused the statement (syntax, unknown column, a type it cannot
# infer): the query file's fault, reported, never a crash of generation.
PREPARE_ERRORS: tuple[type[Exception], ...] = (asyncpg.PostgresError,)


def _named(message: str, order: list[str]) -> str:
    """Postgres says `$2`; the developer wrote `:limit`."""

    def name(m: re.Match[str]) -> str:
        i = int(m.group(1)) - 1
        return f":{order[i]}" if 0 <= i < len(order) else m.group(0)

    return re.sub(r"\$(\d+)", name, message)


def prepare_error(source: QuerySource, sql: str, e: BaseException, order: list[str]) -> QueryError:
    position = getattr(e, "position", None)
    offset = source.offset_of(sql, int(position)) if position else source.sql_start
    message = _named(str(getattr(e, "message", None) or e), order)
    if hint := getattr(e, "hint", None):
        message += f" (hint: {_named(str(hint), order)})"
    return source.error(message, offset)
