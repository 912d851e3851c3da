"""The SQL-first data layer against the session's real database."""

import re

import asyncpg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from lowcode.constraint_errors import CONSTRAINT_ERRORS
from lowcode.identity.errors import EmailTaken
from lowcode.platform.db import QueryObserver, create_pool, load_queries, transaction
from lowcode.platform.metrics import Metrics
from lowcode.settings import PROJECT_ROOT
from lowcode_gen.queries import ROW_TYPES
from lowcode_gen.queries.identity import GetUserRow, InsertUserRow
from tests.support import unique_email

QUERIES_DIR = PROJECT_ROOT / "queries"


def typed_queries(
    metrics: Metrics | None = None, slow_ms: float = 1e9, constraint_errors=None, tracer=None
):
    return load_queries(
        QUERIES_DIR,
        observer=QueryObserver(metrics, tracer, slow_ms),
        row_types=ROW_TYPES,
        constraint_errors=constraint_errors,
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


async def test_a_registered_constraint_raises_its_contexts_error_caused_by_the_drivers(conn):
    q = typed_queries(constraint_errors=CONSTRAINT_ERRORS)
    email = unique_email()
    await insert(q, conn, email)
    with pytest.raises(EmailTaken) as caught:
        await insert(q, conn, email.upper())
    assert caught.value.status == 409
    assert isinstance(caught.value.__cause__, asyncpg.UniqueViolationError)
    assert caught.value.__cause__.constraint_name == "users_email_lower_key"


async def test_a_constraint_means_something_only_to_the_context_that_registered_it(conn):
    """The map is by query folder: identity's query ignores another context's entry."""
    elsewhere = {"workspaces": {"users_email_lower_key": lambda e: EmailTaken("no")}}
    q = typed_queries(constraint_errors=elsewhere)
    email = unique_email()
    await insert(q, conn, email)
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert(q, conn, email.upper())


async def test_a_failed_query_is_counted_and_its_span_records_the_error(conn):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = Metrics()
    q = typed_queries(metrics, constraint_errors=CONSTRAINT_ERRORS, tracer=provider.get_tracer("t"))
    email = unique_email()
    await insert(q, conn, email)
    with pytest.raises(EmailTaken):
        await insert(q, conn, email)
    spans = [s for s in exporter.get_finished_spans() if s.name == "sql identity.insert_user"]
    assert [s.status.status_code for s in spans] == [StatusCode.UNSET, StatusCode.ERROR]
    assert [e.name for e in spans[1].events] == ["exception"]
    text = metrics.render().decode()
    assert 'lowcode_db_query_errors_total{query="identity.insert_user"} 1.0' in text
    assert 'lowcode_db_query_duration_seconds_count{query="identity.insert_user"} 2.0' in text


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


# Statements that leave state on a pooled connection after the query: the API's
# pool skips the reset query on release (`create_pool(reset_session_state=False)`).
_SESSION_STATE = re.compile(
    r"^\s*(SET|RESET|LISTEN|UNLISTEN|DECLARE|PREPARE|DISCARD)\b"
    r"|pg_advisory_lock(_shared)?\s*\(|set_config\s*\(",
    re.IGNORECASE | re.MULTILINE,
)


def test_no_named_query_leaves_session_state_behind():
    found = []
    for path in sorted(QUERIES_DIR.rglob("*.sql")):
        for block in re.split(r"^-- name:", path.read_text(), flags=re.MULTILINE)[1:]:
            sql = "\n".join(
                line for line in block.splitlines()[1:] if not line.lstrip().startswith("--")
            )
            # `UPDATE ... SET` is an update's clause, not a session setting.
            for m in _SESSION_STATE.finditer(sql):
                before = sql[: m.start()].rstrip().rsplit(None, 1)[-1:] if m.start() else []
                if m.group(1) and m.group(1).upper() == "SET" and before:
                    continue
                # set_config(..., true) is SET LOCAL: it ends with the transaction.
                if m.group(0).lower().startswith("set_config") and re.match(
                    r"[^;]*?,\s*true\s*\)", sql[m.end() :], re.IGNORECASE
                ):
                    continue
                found.append(f"{path.name}: {block.splitlines()[0].strip()}: {m.group(0).strip()}")
    assert found == []


async def test_the_lean_pool_still_ends_an_open_transaction_on_release(database_url):
    """What skipping the reset query relies on (asyncpg's `_reset` before a custom
    reset): an abandoned transaction is rolled back when the connection returns."""
    pool = await create_pool(database_url, min_size=1, max_size=1, reset_session_state=False)
    try:
        async with pool.acquire() as c:
            await c.execute("BEGIN")
            await c.execute("CREATE TEMP TABLE abandoned (x int)")
            assert c.is_in_transaction()
        async with pool.acquire() as c:
            assert not c.is_in_transaction()
            assert await c.fetchval("SELECT to_regclass('pg_temp.abandoned')") is None
    finally:
        await pool.close()
