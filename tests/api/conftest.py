"""Fixtures shared by the API suites."""

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from lowcode.app import LowcodeApp
from tests.api.collab.peer import uvicorn_serving
from tests.api.sources import SOURCE_SCHEMA, Source, tcp_database


@pytest.fixture(scope="session")
async def live(app: LowcodeApp) -> AsyncIterator[str]:
    """ws://host:port of the session app served by uvicorn in this event loop."""
    async with uvicorn_serving(app) as url:
        yield url


@pytest.fixture(scope="session")
async def source(pg_admin_dsn: str) -> AsyncIterator[Source]:
    """The session's source database: what datasources point at."""
    async with tcp_database(pg_admin_dsn, "lowcode_src", SOURCE_SCHEMA) as dsn:
        src = urlsplit(dsn)
        yield Source(
            dsn, src.hostname or "127.0.0.1", src.port or 5432, src.path.lstrip("/"),
            src.username or "postgres",
        )  # fmt: skip
