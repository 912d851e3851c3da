"""A sink database beside the session's source database (tests/api/sources.py),
a role that may only read there, slow views for runs that must last, and
helpers to define sync jobs and compare tables across the two databases."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from tests.api.sources import Source, create_datasource
from tests.support import Account

SINK_SCHEMA = """
CREATE TABLE orders_copy (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL,
    total       numeric(10, 2) NOT NULL,
    created_at  timestamptz NOT NULL,
    note        text
);
CREATE TABLE narrow (id smallint, customer_id integer, total numeric, created_at timestamptz,
                     note text);
CREATE TABLE needs_more (id integer, customer_id integer, total numeric, created_at timestamptz,
                         note text, required text NOT NULL);
CREATE TABLE unkeyed (id integer, customer_id integer, total numeric, created_at timestamptz,
                      note text);
CREATE TABLE read_only (id integer, customer_id integer, total numeric, created_at timestamptz,
                        note text);
CREATE VIEW a_view AS SELECT 1 AS id;
"""

# Views that take time, so a run can be killed or canceled midway: a pause
# every `every` rows while COPY streams the rest.
SLOW_VIEW = """
CREATE VIEW {name} AS
SELECT g AS id, md5(g::text) AS label, (g * 0.5)::numeric(12, 1) AS amount
  FROM generate_series(1, {rows}) AS g
 WHERE g % {every} <> 0 OR (SELECT g > 0 FROM pg_sleep({pause} + g * 0));
"""


@dataclass(frozen=True)
class Sink:
    dsn: str
    database: str
    reader: str  # a role that may only SELECT on read_only

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def prefill(self, table: str, rows: int, label: str) -> None:
        """`table` (id, label, amount) holding `rows` rows of `label`."""
        await self.execute(
            f"CREATE TABLE {table} AS SELECT g AS id, '{label}' AS label,"
            " 1.0::numeric(12, 1) AS amount"
            f" FROM generate_series(1, {rows}) g"
        )

    async def execute(self, sql: str) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


async def slow_view(source: Source, rows: int, seconds: float, name: str | None = None) -> str:
    """A view of `rows` rows (id, label, amount) that takes about `seconds` to read."""
    name = name or f"slow_{uuid.uuid4().hex[:8]}"
    pauses = 50
    conn = await asyncpg.connect(source.dsn)
    try:
        await conn.execute(
            SLOW_VIEW.format(
                name=name, rows=rows, every=max(1, rows // pauses), pause=seconds / pauses
            )
        )
    finally:
        await conn.close()
    return name


async def sink_datasource(
    client: httpx.AsyncClient,
    account: Account,
    workspace_id: str,
    source: Source,
    sink: Sink,
    **overrides: Any,
) -> dict[str, Any]:
    """A datasource on the sink database (same server as the source)."""
    return await create_datasource(
        client, account, workspace_id, source, database=sink.database, **overrides
    )


def job_body(
    source: dict[str, Any], sink: dict[str, Any], mode: str = "append", **extra: Any
) -> dict[str, Any]:
    return {
        "name": f"sync-{uuid.uuid4().hex[:8]}",
        "source": source,
        "sink": sink,
        "mode": mode,
        **extra,
    }


async def create_job(
    client: httpx.AsyncClient, account: Account, workspace_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/api/v1/workspaces/{workspace_id}/sync-jobs", headers=account.headers, json=body
    )


async def wait_for_run(
    client: httpx.AsyncClient,
    account: Account,
    run_id: str,
    statuses: set[str],
    timeout: float = 30,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/api/v1/sync-runs/{run_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        run = dict(response.json())
        if run["status"] in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run['status']} after {timeout}s: {run}")
        await asyncio.sleep(0.05)


TABLE_DIGEST = """
SELECT count(*) AS n,
       md5(coalesce(string_agg(id::text || '|' || label || '|' || amount::text, ','
                               ORDER BY id), '')) AS digest
  FROM {table}
"""


async def digest(dsn: str, table: str) -> tuple[int, str]:
    """Row count and a checksum of (id, label, amount) in id order."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(TABLE_DIGEST.format(table=table))
    finally:
        await conn.close()
    assert row is not None
    return int(row["n"]), str(row["digest"])
