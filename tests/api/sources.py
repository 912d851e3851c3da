"""A source database for datasources, datasets and SQL validation: a separate database on the
test server with a few typed tables, a million-row table (built once per
session with generate_series), a sequence and a function that writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from lowcode.platform.scratch import create_database, drop_database
from tests.support import Account

BIG_ROWS = 1_000_000

SOURCE_SCHEMA = f"""
CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (
    id          serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    total       numeric(10, 2) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT '2026-11-02 09:15:00+00',
    note        text
);
CREATE TABLE kinds (
    i2 smallint, i4 integer, i8 bigint, num numeric, f8 double precision, ok boolean,
    d date, ts timestamp, tstz timestamptz, t time, iv interval, b bytea, j jsonb,
    arr integer[], u uuid, ip inet
);
CREATE TABLE audit (at timestamptz DEFAULT now(), what text);
CREATE SEQUENCE s;
-- VOLATILE (the default) and writing: a dataset calling it is refused.
CREATE FUNCTION bump() RETURNS integer LANGUAGE sql AS
  $$ INSERT INTO audit (what) VALUES ('bumped') RETURNING 1 $$;
-- STABLE: cannot write, so calling it is fine.
CREATE FUNCTION customer_count() RETURNS bigint LANGUAGE sql STABLE AS
  $$ SELECT count(*) FROM customers $$;
INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Edsger');
INSERT INTO orders (customer_id, total, note) VALUES
  (1, 120.50, 'first'), (2, 310.00, NULL), (1, 99.99, 'small'), (3, 1000.01, 'big');
INSERT INTO kinds VALUES (
  1, 2, 9007199254740993, 12345678901234567890.123456789, 'NaN', true,
  '2026-11-22', '2026-11-22 10:30:00', '2026-11-22 10:30:00+00', '10:30:00',
  '1 day 2 hours 3.5 seconds', '\\x00ff10', '{{"a": [1, 2, {{"b": null}}]}}',
  '{{1,2,3}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1'
);
CREATE TABLE big AS
  SELECT g AS id, md5(g::text) AS label, g * 0.5 AS amount FROM generate_series(1, {BIG_ROWS}) g;
"""


@dataclass(frozen=True)
class Source:
    dsn: str
    host: str
    port: int
    database: str
    username: str

    def datasource_body(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "name": f"src-{uuid.uuid4().hex[:8]}",
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "username": self.username,
            "password": f"pw-{uuid.uuid4().hex}",
            "ssl_mode": "disable",
        }
        body.update(overrides)
        return body


@asynccontextmanager
async def tcp_database(pg_admin_dsn: str, name: str, *statements: str) -> AsyncIterator[str]:
    """A fresh database of the test PostgreSQL with `statements` run in it, dropped after.
    Datasources and the sync peer reach it by host and port, so it must be on TCP."""
    parts = urlsplit(pg_admin_dsn)
    if not parts.hostname or parts.hostname.startswith("/"):
        pytest.fail("datasource and sync tests need the test PostgreSQL on TCP (host:port)")
    dsn = await create_database(pg_admin_dsn, name)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()
        yield dsn
    finally:
        await drop_database(pg_admin_dsn, dsn)


async def create_datasource(
    client: httpx.AsyncClient, account: Account, workspace_id: str, source: Source, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/workspaces/{workspace_id}/datasources",
        headers=account.headers,
        json=source.datasource_body(**overrides),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_dataset(
    client: httpx.AsyncClient, account: Account, workspace_id: str, datasource_id: str, sql: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/workspaces/{workspace_id}/datasets",
        headers=account.headers,
        json={"datasource_id": datasource_id, "name": f"ds-{uuid.uuid4().hex[:8]}", "sql": sql},
    )
