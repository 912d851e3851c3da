"""Disposable databases for tests and code generation.

Where servers come from, in order: an explicit URL (`TEST_DATABASE_URL`,
`TEST_REDIS_URL`), a server answering on 127.0.0.1's default port, else a
private embedded one. Each caller then works in its own freshly created
database, so concurrent runs never collide.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from lowcode.platform.embedded import EmbeddedRedis, start_postgres, stop_postgres, tcp_answers
from lowcode.platform.migrate import run_dbmate

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@contextmanager
def postgres_server(work_dir: Path, env_var: str = "TEST_DATABASE_URL") -> Iterator[str]:
    """Yield an admin DSN (a database we may CREATE DATABASE from)."""
    if url := os.environ.get(env_var):
        yield url
        return
    if os.environ.get("LOWCODE_FORCE_EMBEDDED") != "1" and tcp_answers("127.0.0.1", 5432):
        yield LOCAL_POSTGRES
        return
    dsn, handle = start_postgres(work_dir / "postgres")
    try:
        yield dsn
    finally:
        stop_postgres(handle)


@contextmanager
def redis_server(work_dir: Path, env_var: str = "TEST_REDIS_URL") -> Iterator[str]:
    if url := os.environ.get(env_var):
        yield url
        return
    if os.environ.get("LOWCODE_FORCE_EMBEDDED") != "1" and tcp_answers("127.0.0.1", 6379):
        yield LOCAL_REDIS
        return
    server = EmbeddedRedis(work_dir / "redis")
    try:
        yield server.start()
    finally:
        server.stop()


async def create_database(admin_dsn: str, prefix: str = "lowcode_scratch") -> str:
    if not re.fullmatch(r"[a-z_]{1,40}", prefix):
        raise ValueError(f"bad database prefix {prefix!r}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        # Identifiers cannot be bound parameters; `name` is generated above from
        # a fixed prefix and hex digits only, and quoted.
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, dsn: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def migrated_database(
    admin_dsn: str, migrations_dir: Path, prefix: str = "lowcode_scratch"
) -> AsyncIterator[str]:
    dsn = await create_database(admin_dsn, prefix)
    try:
        run_dbmate(dsn, migrations_dir, "up")
        yield dsn
    finally:
        await drop_database(admin_dsn, dsn)
