"""What the source's and sink's PostgreSQL errors mean to a copy: each is the
job's failure (its `error_msg`), told in the server's words."""

from __future__ import annotations

import asyncio

import asyncpg

# Connecting failed: refused, unreachable, timed out, or the server said no.
CONNECT_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    TimeoutError,
)

# A statement the source or sink server refused or failed.
SQL_ERRORS: tuple[type[Exception], ...] = (asyncpg.PostgresError,)


def pg_message(e: BaseException) -> str:
    if isinstance(e, asyncpg.PostgresError):
        text = str(e.args[0]) if e.args else type(e).__name__
        detail = getattr(e, "detail", None)
        return f"{text} ({detail})" if detail else text
    if isinstance(e, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    return f"{type(e).__name__}: {e}"
