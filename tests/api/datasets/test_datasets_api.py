"""Datasets through the API: validated against the datasource's live catalog,
refused when they would write, previewed read-only within their bounds."""

from __future__ import annotations

import time
import tracemalloc

import asyncpg
import pytest

from tests.api.sources import BIG_ROWS, create_dataset, create_datasource
from tests.support import add_member, assert_problem, make_workspace, running_app, signup


@pytest.fixture
async def setup(client, source):
    owner = await signup(client, "owner")
    ws = await make_workspace(client, owner)
    ds = await create_datasource(client, owner, ws, source)
    return owner, ws, ds


async def test_a_dataset_is_validated_and_stores_its_output_columns(client, setup):
    owner, ws, ds = setup
    created = await create_dataset(
        client,
        owner,
        ws,
        ds["id"],
        "SELECT o.id, o.total, c.name, customer_count() AS n\n"
        "  FROM orders o JOIN customers c ON c.id = o.customer_id",
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert [c["name"] for c in body["columns"]] == ["id", "total", "name", "n"]
    assert body["columns"][0]["type"] == "INT" and body["columns"][2]["type"] == "TEXT"
    got = await client.get(f"/api/v1/datasets/{body['id']}", headers=owner.headers)
    assert got.json() == body
    listed = await client.get(
        f"/api/v1/workspaces/{ws}/datasets?datasource_id={ds['id']}", headers=owner.headers
    )
    assert [d["id"] for d in listed.json()["items"]] == [body["id"]]


async def test_invalid_sql_is_refused_with_positions(client, setup):
    owner, ws, ds = setup
    unknown_column = await create_dataset(
        client, owner, ws, ds["id"], "SELECT id,\n       totl\n  FROM orders"
    )
    err = assert_problem(unknown_column, 422, "INVALID_SQL")["errors"][0]
    assert (err["code"], err["line"], err["column"], err["end_column"]) == (
        "UNKNOWN_COLUMN", 2, 8, 11,
    )  # fmt: skip
    unknown_table = await create_dataset(client, owner, ws, ds["id"], "SELECT * FROM ordres")
    err = assert_problem(unknown_table, 422, "INVALID_SQL")["errors"][0]
    assert (err["code"], err["column"], err["start_offset"]) == ("UNKNOWN_TABLE", 15, 14)
    two = await create_dataset(client, owner, ws, ds["id"], "SELECT 1; SELECT 2")
    assert assert_problem(two, 422, "INVALID_SQL")["errors"][0]["code"] == "MULTIPLE_STATEMENTS"


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("DELETE FROM orders", "NOT_A_QUERY"),
        ("INSERT INTO audit (what) SELECT name FROM customers", "NOT_A_QUERY"),
        ("WITH d AS (DELETE FROM orders RETURNING id) SELECT id FROM d", "WRITES_TABLE"),
        ("SELECT id FROM orders FOR UPDATE", "WRITES_TABLE"),
        ("SELECT c.id FROM customers c FOR SHARE OF c", "WRITES_TABLE"),
        ("SELECT bump() AS b", "VOLATILE_FUNCTION"),
        ("SELECT nextval('s') AS n", "VOLATILE_FUNCTION"),
        ("UPDATE orders SET total = 0", "NOT_A_QUERY"),
    ],
)
async def test_a_dataset_that_writes_is_refused_on_save(client, setup, source, sql, code):
    owner, ws, ds = setup
    refused = await create_dataset(client, owner, ws, ds["id"], sql)
    body = assert_problem(refused, 422, "DATASET_NOT_READ_ONLY")
    assert code in {e["code"] for e in body["errors"]}, body
    conn = await asyncpg.connect(source.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 4
        assert await conn.fetchval("SELECT count(*) FROM audit") == 0
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("WITH d AS (DELETE FROM orders RETURNING id) SELECT id FROM d", "DATASET_NOT_READ_ONLY"),
        ("SELECT bump()", "DATASET_NOT_READ_ONLY"),
        ("SELECT nextval('s')", "DATASET_NOT_READ_ONLY"),
        ("INSERT INTO audit (what) VALUES ('x') RETURNING what", "DATASET_NOT_READ_ONLY"),
        ("SELECT * FROM orders FOR UPDATE", "DATASET_NOT_READ_ONLY"),
        # The extended protocol takes one statement: nothing can be appended.
        ("SELECT 1; DELETE FROM orders", "QUERY_FAILED"),
    ],
)
async def test_preview_cannot_write_even_when_the_stored_sql_is_edited_by_hand(
    client, setup, source, database_url, sql, code
):
    owner, ws, ds = setup
    created = await create_dataset(client, owner, ws, ds["id"], "SELECT id FROM orders")
    dataset_id = created.json()["id"]
    ours = await asyncpg.connect(database_url)
    try:  # what someone with database access could do behind the API's back
        await ours.execute("UPDATE datasets SET sql = $1 WHERE id = $2", sql, dataset_id)
    finally:
        await ours.close()
    preview = await client.get(f"/api/v1/datasets/{dataset_id}/preview", headers=owner.headers)
    assert_problem(preview, 422, code)
    conn = await asyncpg.connect(source.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM orders") == 4
        assert await conn.fetchval("SELECT count(*) FROM audit") == 0
        assert await conn.fetchval("SELECT last_value FROM s") == 1
        assert await conn.fetchval("SELECT is_called FROM s") is False
    finally:
        await conn.close()


async def test_preview_returns_typed_json_safe_rows(client, setup):
    owner, ws, ds = setup
    created = await create_dataset(client, owner, ws, ds["id"], "SELECT * FROM kinds")
    assert created.status_code == 201, created.text
    preview = await client.get(
        f"/api/v1/datasets/{created.json()['id']}/preview", headers=owner.headers
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    types = {c["name"]: (c["type"], c["json_type"]) for c in body["columns"]}
    assert types["i4"] == ("int4", "integer") and types["i8"] == ("int8", "string")
    assert types["num"] == ("numeric", "string") and types["arr"] == ("int4[]", "array")
    assert types["j"] == ("jsonb", "json") and types["b"] == ("bytea", "string")
    row = dict(zip(types, body["rows"][0], strict=True))
    assert row["i8"] == "9007199254740993"  # beyond 2^53: a string keeps it exact
    assert row["num"] == "12345678901234567890.123456789"
    assert row["f8"] == "nan"
    assert row["ok"] is True and row["i2"] == 1
    assert row["d"] == "2026-11-22" and row["tstz"] == "2026-11-22T10:30:00+00:00"
    assert row["iv"] == "P1DT7203.5S"
    assert row["b"] == "AP8Q"  # base64 of 00 ff 10
    assert row["j"] == {"a": [1, 2, {"b": None}]}
    assert row["arr"] == [1, 2, 3] and row["ip"] == "192.168.0.1"
    assert body["row_count"] == 1 and body["has_more"] is False and body["truncated"] is False


async def test_preview_of_a_million_rows_returns_limit_rows_fast_in_bounded_memory(client, setup):
    owner, ws, ds = setup
    created = await create_dataset(client, owner, ws, ds["id"], "SELECT id, label, amount FROM big")
    assert created.status_code == 201, created.text
    url = f"/api/v1/datasets/{created.json()['id']}/preview"
    await client.get(f"{url}?limit=1", headers=owner.headers)  # the pool's first connection
    tracemalloc.start()
    start = time.perf_counter()
    try:
        preview = await client.get(f"{url}?limit=250", headers=owner.headers)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["row_count"] == 250 and body["has_more"] is True
    assert body["rows"][0] == [1, "c4ca4238a0b923820dcc509a6f75849b", "0.5"]
    assert elapsed < 2.0, elapsed  # a full read of BIG_ROWS rows takes several seconds here
    assert peak < 8 * 1024 * 1024, peak  # the table's rows would be > 100 MiB
    assert BIG_ROWS >= 1_000_000
    too_many = await client.get(f"{url}?limit=1001", headers=owner.headers)
    assert_problem(too_many, 400, "VALIDATION_FAILED")


async def test_the_byte_cap_cuts_a_preview_short(settings, source):
    async with running_app(settings, dataset_preview_max_bytes=4096) as (_, client):
        owner = await signup(client, "owner")
        ws = await make_workspace(client, owner)
        ds = await create_datasource(client, owner, ws, source)
        created = await create_dataset(client, owner, ws, ds["id"], "SELECT id, label FROM big")
        preview = await client.get(
            f"/api/v1/datasets/{created.json()['id']}/preview?limit=1000", headers=owner.headers
        )
        body = preview.json()
        assert body["truncated"] is True and 0 < body["row_count"] < 1000
        assert len(preview.content) < 4096 + 1024


async def test_a_slow_query_times_out_clearly_and_the_connection_is_reused(settings, source):
    async with running_app(settings, dataset_statement_timeout_ms=300, datasource_pool_max=1) as (
        app,
        client,
    ):
        owner = await signup(client, "owner")
        ws = await make_workspace(client, owner)
        ds = await create_datasource(client, owner, ws, source)
        slow = await create_dataset(
            client, owner, ws, ds["id"], "SELECT count(*) AS n FROM big a CROSS JOIN big b"
        )
        fast = await create_dataset(client, owner, ws, ds["id"], "SELECT name FROM customers")
        start = time.perf_counter()
        timed_out = await client.get(
            f"/api/v1/datasets/{slow.json()['id']}/preview", headers=owner.headers
        )
        assert time.perf_counter() - start < 5
        assert "300 ms" in assert_problem(timed_out, 422, "QUERY_TIMEOUT")["detail"]
        assert app.res is not None and app.res.datasource_pools.open_count() == 1
        after = await client.get(
            f"/api/v1/datasets/{fast.json()['id']}/preview", headers=owner.headers
        )
        assert after.status_code == 200 and after.json()["row_count"] == 3


async def test_viewers_read_and_preview_but_do_not_write_and_strangers_see_nothing(
    client, setup, source
):
    owner, ws, ds = setup
    viewer, stranger = await signup(client, "viewer"), await signup(client, "stranger")
    await add_member(client, owner, ws, viewer, "viewer")
    created = (await create_dataset(client, owner, ws, ds["id"], "SELECT id FROM customers")).json()
    base = f"/api/v1/datasets/{created['id']}"
    assert (await client.get(base, headers=viewer.headers)).status_code == 200
    assert (await client.get(f"{base}/preview", headers=viewer.headers)).status_code == 200
    assert_problem(
        await create_dataset(client, viewer, ws, ds["id"], "SELECT 1 AS one"), 403, "FORBIDDEN"
    )
    assert_problem(
        await client.patch(base, headers=viewer.headers, json={"name": "x"}), 403, "FORBIDDEN"
    )
    assert_problem(await client.delete(base, headers=viewer.headers), 403, "FORBIDDEN")
    for method, url in (("GET", base), ("GET", f"{base}/preview"), ("DELETE", base)):
        response = await client.request(method, url, headers=stranger.headers)
        assert_problem(response, 404, "DATASET_NOT_FOUND")
    patched = await client.patch(base, headers=stranger.headers, json={"name": "x"})
    assert_problem(patched, 404, "DATASET_NOT_FOUND")
    listed = await client.get(f"/api/v1/workspaces/{ws}/datasets", headers=stranger.headers)
    assert_problem(listed, 404, "WORKSPACE_NOT_FOUND")
    foreign_ws = await make_workspace(client, stranger)
    borrowed = await create_dataset(client, stranger, foreign_ws, ds["id"], "SELECT 1 AS one")
    assert_problem(borrowed, 404, "DATASOURCE_NOT_FOUND")


async def test_changing_the_sql_validates_it_again_and_updates_the_columns(client, setup):
    owner, ws, ds = setup
    created = (await create_dataset(client, owner, ws, ds["id"], "SELECT id FROM customers")).json()
    base = f"/api/v1/datasets/{created['id']}"
    changed = await client.patch(
        base, headers=owner.headers, json={"sql": "SELECT id, name FROM customers", "version": 1}
    )
    assert changed.status_code == 200, changed.text
    assert [c["name"] for c in changed.json()["columns"]] == ["id", "name"]
    refused = await client.patch(base, headers=owner.headers, json={"sql": "DELETE FROM customers"})
    assert_problem(refused, 422, "DATASET_NOT_READ_ONLY")
    stale = await client.patch(base, headers=owner.headers, json={"name": "n", "version": 1})
    assert_problem(stale, 409, "VERSION_CONFLICT")
    assert (await client.delete(base, headers=owner.headers)).status_code == 204
