"""Fixtures of the sync suites."""

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.api.sources import tcp_database
from tests.api.sync.support import SINK_SCHEMA, Sink


@pytest.fixture(scope="session")
async def sink(pg_admin_dsn: str) -> AsyncIterator[Sink]:
    """The session's sink database: where sync runs write."""
    reader = f"lc_reader_{uuid.uuid4().hex[:8]}"
    try:
        async with tcp_database(
            pg_admin_dsn,
            "lowcode_sink",
            SINK_SCHEMA,
            # A generated name, quoted: roles cannot be bound parameters.
            f'CREATE ROLE "{reader}" LOGIN',
            f'GRANT SELECT ON read_only TO "{reader}"',
            f'REVOKE CREATE ON SCHEMA public FROM "{reader}"',
        ) as dsn:
            yield Sink(dsn, urlsplit(dsn).path.lstrip("/"), reader)
    finally:
        # After the database: the role holds privileges in it until that is gone.
        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            await admin.execute(f'DROP ROLE IF EXISTS "{reader}"')
        finally:
            await admin.close()
