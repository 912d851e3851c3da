"""The SQL-first data layer against the session's real database."""

import asyncpg
import pytest

from lowcode.platform.db import QueryObserver, load_queries, transaction
from lowcode.platform.metrics import Metrics
from lowcode.settings import PROJECT_ROOT
from lowcode_gen.queries import ROW_TYPES
from lowcode_gen.queries.identity import GetUserRow, InsertUserRow
from tests.conftest import unique_email

QUERIES_DIR = PROJECT_ROOT / "queries"


def typed_queries(metrics: Metrics | None = None, slow_ms: float = 1e9):
    return load_queries(
        QUERIES_DIR, observer=QueryObserver(metrics, None, slow_ms), row_types=ROW_TYPES
    )


async def insert(q, conn, email: str) -> InsertUserRow:
    return await q.identity.insert_user(
        conn, email=email, password_hash="x", display_name="Ada", role="user"
    )


async def test_queries_return_the_generated_row_types(conn):
    q = typed_queries()
    row = await insert(q, conn, unique_email())
    assert isinstance(row, InsertUserRow)
    fetched = await q.identity.get_user(conn, user_id=row.id)
    assert isinstance(fetched, GetUserRow)
    assert fetched.email == row.email
    assert await q.identity.count_users(conn) >= 1


async def test_email_uniqueness_ignores_case(conn):
    q = typed_queries()
    email = unique_email()
    await insert(q, conn, email)
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert(q, conn, email.upper())


async def test_lookup_by_email_is_case_insensitive(conn):
    q = typed_queries()
    email = unique_email()
    await insert(q, conn, email)
    row = await q.identity.get_user_by_email(conn, email=email.upper())
    assert row is not None and row.email == email


async def test_transaction_helper_rolls_back_on_error(database_url):
    q = typed_queries()
    email = unique_email()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        with pytest.raises(RuntimeError):
            async with transaction(pool) as c:
                await insert(q, c, email)
                raise RuntimeError("abort")
        async with pool.acquire() as c:
            assert await q.identity.get_user_by_email(c, email=email) is None
    finally:
        await pool.close()


async def test_query_latency_is_recorded_by_query_name(conn):
    metrics = Metrics()
    q = typed_queries(metrics)
    await q.identity.count_users(conn)
    text = metrics.render().decode()
    assert 'lowcode_db_query_duration_seconds_count{query="identity.count_users"} 1.0' in text


async def test_slow_queries_are_logged_with_their_name(conn, logs):
    q = typed_queries(slow_ms=0)
    await q.identity.count_users(conn)
    slow = [line for line in logs.lines("lowcode.db") if line["message"] == "slow query"]
    assert slow and slow[0]["query"] == "identity.count_users"
    assert slow[0]["duration_ms"] >= 0
