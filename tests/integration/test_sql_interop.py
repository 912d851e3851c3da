"""Our grpclib client (betterproto2 stubs) against the grpcio reference peer in
another process, over a real socket: answers, positions, deadlines, outages,
retries and the breaker."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from opentelemetry.trace import NoOpTracer

from lowcode.platform.grpc import GrpcTarget, PeerTimeout, PeerUnavailable, TargetPolicy
from lowcode.platform.metrics import Metrics
from lowcode.sql.client import SqlClient
from lowcode.sql.models import Catalog, CatalogColumn, CatalogTable
from tests.peers import PeerProcess

CATALOG = Catalog(
    "public",
    (
        CatalogTable(
            "public",
            "orders",
            (
                CatalogColumn("id", "integer"),
                CatalogColumn("customer_id", "integer"),
                CatalogColumn("total", "numeric(10,2)"),
                CatalogColumn("created_at", "timestamp with time zone"),
            ),
        ),
        CatalogTable(
            "public", "customers", (CatalogColumn("id", "integer"), CatalogColumn("name", "text"))
        ),
    ),
)


def client_for(peer: PeerProcess, metrics: Metrics | None = None, **policy: float) -> SqlClient:
    return SqlClient(
        GrpcTarget(
            "calcite",
            "the SQL service",
            peer.target,
            TargetPolicy(**policy),  # type: ignore[arg-type]
            metrics or Metrics(),
            NoOpTracer(),
        )
    )


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_parse_normalises_kinds_and_lists_tables_columns_and_access(sql_peer):
    sql = client_for(sql_peer)
    try:
        limited = await sql.parse("SELECT id FROM orders ORDER BY id LIMIT 5", "postgres")
        assert limited.kind == "select" and limited.statement_count == 1  # not ORDER_BY
        assert [(t.name, t.access) for t in limited.tables] == [("orders", "read")]
        cte = await sql.parse("WITH x AS (SELECT 1 AS a) SELECT a FROM x", "postgres")
        assert cte.kind == "select" and cte.tables == ()  # a CTE name is no table
        insert = await sql.parse("INSERT INTO audit (what) SELECT name FROM customers", "postgres")
        assert insert.kind == "insert"
        assert {(t.name, t.access) for t in insert.tables} == {
            ("audit", "write"), ("customers", "read"),
        }  # fmt: skip
        locked = await sql.parse("SELECT * FROM orders FOR UPDATE", "mysql")
        assert [(t.name, t.access) for t in locked.tables] == [("orders", "write")]
        ddl = await sql.parse("CREATE TABLE z (a int)", "postgres")
        assert ddl.kind == "ddl"
        for dialect in ("postgres", "mysql", "bigquery", "snowflake", "spark"):
            parsed = await sql.parse("SELECT a, COUNT(*) FROM t GROUP BY a", dialect)
            assert parsed.kind == "select" and not parsed.errors, dialect
    finally:
        await sql.target.close()


async def test_validate_resolves_tables_columns_and_output_types(sql_peer):
    sql = client_for(sql_peer)
    try:
        result = await sql.validate(
            "SELECT o.id, o.total, c.name, count(*) OVER () AS n\n"
            "  FROM orders o JOIN customers c ON c.id = o.customer_id",
            "postgres",
            CATALOG,
        )
        assert not result.errors
        assert [(c.name, c.type) for c in result.output_columns] == [
            ("id", "INT"), ("total", "DECIMAL(10, 2)"), ("name", "TEXT"), ("n", "BIGINT"),
        ]  # fmt: skip
        assert {(t.schema, t.name, t.access) for t in result.tables} == {
            ("public", "orders", "read"), ("public", "customers", "read"),
        }  # fmt: skip
        assert ("orders", "customer_id") in {(c.table, c.name) for c in result.columns}
        assert result.normalized_sql.startswith('SELECT "o"."id" AS "id"')
        star = await sql.validate("SELECT * FROM customers", "postgres", CATALOG)
        assert [c.name for c in star.output_columns] == ["id", "name"]
    finally:
        await sql.target.close()


BROKEN = [
    # (sql, code, (line, column, end_line, end_column), text at the span)
    ("select (a from t", "SYNTAX_ERROR", (1, 11, 1, 14), "from"),
    ("SELECT * FROM t WHERE", "SYNTAX_ERROR", (1, 17, 1, 21), "WHERE"),
    ("SELECT a FROM t WHERE x = ", "SYNTAX_ERROR", (1, 25, 1, 25), "="),
    ("SELECT\n  a,\n  b\nFROM t\nWHERE a = 1 AND AND b = 2", "SYNTAX_ERROR", (5, 17, 5, 19), "AND"),
    ("select 'abc from t", "SYNTAX_ERROR", (1, 8, 1, 18), "'abc from t"),
    ("select a from t /* never closed", "SYNTAX_ERROR", (1, 17, 1, 31), "/* never closed"),
    ('select "abc from t', "SYNTAX_ERROR", (1, 8, 1, 18), '"abc from t'),
    ("select a b c from t", "SYNTAX_ERROR", (1, 12, 1, 12), "c"),
    ("select * from t limit", "SYNTAX_ERROR", (1, 17, 1, 21), "limit"),
    ("update t set where", "SYNTAX_ERROR", (1, 14, 1, 18), "where"),
    ("SELECT a FROM t\nWHERE b IN (1, 2", "SYNTAX_ERROR", (2, 16, 2, 16), "2"),
    ("SELECT count(* FROM t", "SYNTAX_ERROR", (1, 16, 1, 19), "FROM"),
    ("INSERT INTO t (a, b VALUES (1, 2)", "SYNTAX_ERROR", (1, 21, 1, 26), "VALUES"),
    ("select 1;\nselect 2", "MULTIPLE_STATEMENTS", (2, 1, 2, 8), "select 2"),
    ("SELECT id,\n       totl\n  FROM orders", "UNKNOWN_COLUMN", (2, 8, 2, 11), "totl"),
    (
        "SELECT o.id, c.nme FROM orders o JOIN customers c ON c.id = o.customer_id",
        "UNKNOWN_COLUMN",
        (1, 16, 1, 18),
        "nme",
    ),
    ("SELECT id FROM orders, customers", "AMBIGUOUS_COLUMN", (1, 8, 1, 9), "id"),
    ("SELECT *\n  FROM public.ordres", "UNKNOWN_TABLE", (2, 15, 2, 20), "ordres"),
]


@pytest.mark.parametrize(("sql", "code", "where", "text"), BROKEN)
async def test_broken_statements_come_back_as_diagnostics_with_positions(
    sql_peer, sql, code, where, text
):
    client = client_for(sql_peer)
    try:
        result = await client.validate(sql, "postgres", CATALOG)
    finally:
        await client.target.close()
    [first, *_] = result.errors
    assert first.code == code, first
    span = first.span
    assert span is not None
    assert (span.start_line, span.start_column, span.end_line, span.end_column) == where
    assert sql[span.start_offset : span.end_offset + 1] == text


async def test_transpile_rewrites_and_warns_about_what_it_cannot_express(sql_peer):
    sql = client_for(sql_peer)
    try:
        fetch = await sql.transpile(
            "SELECT x FROM t FETCH FIRST 5 ROWS ONLY", "postgres", "mysql", pretty=False
        )
        assert fetch.sql == "SELECT x FROM t LIMIT 5" and fetch.warnings == ()
        lossy = await sql.transpile(
            "SELECT a FROM t ORDER BY 1 NULLS LAST", "postgres", "tsql", pretty=False
        )
        assert lossy.warnings and "NULLS LAST" in lossy.warnings[0]
        broken = await sql.transpile("SELECT (1", "postgres", "mysql", pretty=False)
        assert broken.sql == "" and broken.diagnostics[0].code == "SYNTAX_ERROR"
    finally:
        await sql.target.close()


async def test_a_malformed_request_is_a_grpc_error_not_a_diagnostic(sql_peer):
    from lowcode.platform.grpc import PeerRejected

    metrics = Metrics()
    sql = client_for(sql_peer, metrics)
    try:
        with pytest.raises(PeerRejected, match="unknown dialect"):
            await sql.parse("SELECT 1", "klingon")
        assert sample(metrics, "lowcode_grpc_client_calls_total", peer="calcite",
                      method="Parse", code="INVALID_ARGUMENT") == 1  # fmt: skip
        assert sample(metrics, "lowcode_grpc_breaker_state", peer="calcite") == 0
    finally:
        await sql.target.close()


async def test_an_expired_deadline_is_retried_then_reported_as_a_timeout(work_dir):
    slow = PeerProcess(work_dir, "slow", "--delay-ms=400")
    slow.start()
    metrics = Metrics()
    sql = client_for(slow, metrics, timeout_s=0.1, retry_attempts=2, retry_wait_initial_s=0.05)
    try:
        start = time.perf_counter()
        with pytest.raises(PeerTimeout, match=r"did not answer within 0\.1 s"):
            await sql.parse("SELECT 1", "postgres")
        assert time.perf_counter() - start < 1.5
        assert sample(metrics, "lowcode_grpc_client_calls_total", peer="calcite",
                      method="Parse", code="DEADLINE_EXCEEDED") == 2  # fmt: skip
        assert (
            sample(metrics, "lowcode_grpc_client_retries_total", peer="calcite", method="Parse")
            == 1
        )
        await asyncio.sleep(0.5)  # the peer logs each call once it ends
        deadlines = [c["deadline_s"] for c in slow.calls()]
        assert len(deadlines) == 2 and all(0 < d <= 0.1 for d in deadlines), deadlines
    finally:
        await sql.target.close()
        slow.stop()


async def test_a_brief_outage_is_ridden_out_by_retries(work_dir):
    peer = PeerProcess(work_dir, "flaky")
    peer.start()
    metrics = Metrics()
    sql = client_for(
        peer, metrics, retry_attempts=20, retry_timeout_s=15, retry_wait_initial_s=0.1,
        retry_wait_max_s=0.3, breaker_threshold=50,
    )  # fmt: skip
    try:
        assert (await sql.parse("SELECT 1", "postgres")).kind == "select"
        peer.kill()
        restart = threading.Timer(0.5, peer.start)
        restart.start()
        result = await sql.parse("SELECT 2", "postgres")  # starts while the peer is down
        restart.join()
        assert result.kind == "select"
        assert (
            sample(metrics, "lowcode_grpc_client_retries_total", peer="calcite", method="Parse")
            >= 1
        )
        assert sample(metrics, "lowcode_grpc_client_calls_total", peer="calcite",
                      method="Parse", code="UNAVAILABLE") >= 1  # fmt: skip
    finally:
        await sql.target.close()
        peer.stop()


async def test_the_breaker_opens_while_the_peer_is_down_and_closes_after_it_returns(work_dir):
    peer = PeerProcess(work_dir, "breaker")
    peer.start()
    metrics = Metrics()
    sql = client_for(peer, metrics, retry_attempts=1, breaker_threshold=2, breaker_reset_s=1.0)
    state = lambda: sample(metrics, "lowcode_grpc_breaker_state", peer="calcite")  # noqa: E731
    try:
        await sql.parse("SELECT 1", "postgres")
        peer.kill()
        for _ in range(2):
            with pytest.raises(PeerUnavailable):
                await sql.parse("SELECT 1", "postgres")
        assert state() == 2  # open
        with pytest.raises(PeerUnavailable) as opened:
            await sql.parse("SELECT 1", "postgres")
        assert "circuit open" in str(opened.value)
        assert opened.value.headers["Retry-After"] == "1"
        peer.start()
        await asyncio.sleep(1.1)
        assert (await sql.parse("SELECT 1", "postgres")).kind == "select"
        assert state() == 0  # closed again
    finally:
        await sql.target.close()
        peer.stop()


async def test_calls_that_are_not_idempotent_are_never_retried(work_dir):
    peer = PeerProcess(work_dir, "once")
    peer.start()
    peer.kill()
    metrics = Metrics()
    target = GrpcTarget(
        "calcite",
        "the SQL service",
        peer.target,
        TargetPolicy(retry_attempts=5),
        metrics,
        NoOpTracer(),
    )
    sql = SqlClient(target)

    async def invoke(channel, deadline_s):
        from lowcode_gen.proto.calcite.v1 import ParseRequest, SqlServiceStub

        return await SqlServiceStub(channel).parse(ParseRequest(sql="SELECT 1"), timeout=deadline_s)

    try:
        with pytest.raises(PeerUnavailable):
            await target.call("Parse", invoke, idempotent=False)
        assert sample(metrics, "lowcode_grpc_client_calls_total", peer="calcite",
                      method="Parse", code="UNAVAILABLE") == 1  # fmt: skip
        assert (
            sample(metrics, "lowcode_grpc_client_retries_total", peer="calcite", method="Parse")
            == 0
        )
        with pytest.raises(PeerUnavailable):
            await sql.parse("SELECT 1", "postgres")  # idempotent: retried
        assert (
            sample(metrics, "lowcode_grpc_client_retries_total", peer="calcite", method="Parse")
            == 4
        )
    finally:
        await target.close()
