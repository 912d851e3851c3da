"""POST /api/v1/sql/parse|validate|transpile against the reference peer, and
what the API does when the peer is down."""

from __future__ import annotations

import asyncio
import uuid

from tests.api.sources import create_datasource
from tests.peers import PeerProcess
from tests.support import assert_problem, make_workspace, running_app, signup

INLINE_CATALOG = {
    "default_schema": "public",
    "tables": [
        {
            "name": "orders",
            "columns": [{"name": "id", "type": "integer"}, {"name": "total", "type": "numeric"}],
        }
    ],
}


async def test_parse_describes_a_statement(client):
    user = await signup(client, "sql")
    response = await client.post(
        "/api/v1/sql/parse",
        headers=user.headers,
        json={"sql": "SELECT id FROM orders ORDER BY id LIMIT 3", "dialect": "postgres"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "select" and body["statement_count"] == 1
    assert body["tables"] == [{"schema": "", "name": "orders", "alias": "", "access": "read"}]


async def test_invalid_sql_is_a_422_listing_each_error_with_its_position(client):
    user = await signup(client, "sql")
    response = await client.post(
        "/api/v1/sql/parse",
        headers=user.headers,
        json={"sql": "SELECT a,\n  FROM t WHERE", "dialect": "postgres"},
    )
    body = assert_problem(response, 422, "INVALID_SQL")
    [error] = body["errors"]
    assert error["field"] == "sql" and error["code"] == "SYNTAX_ERROR"
    assert (error["line"], error["column"], error["end_line"], error["end_column"]) == (
        2,
        10,
        2,
        14,
    )
    assert "line 2, column 10" in body["detail"]


async def test_validate_against_an_inline_catalog_or_a_live_datasource(client, source):
    user = await signup(client, "sql")
    inline = await client.post(
        "/api/v1/sql/validate",
        headers=user.headers,
        json={
            "sql": "SELECT id, total FROM orders",
            "dialect": "postgres",
            "catalog": INLINE_CATALOG,
        },
    )
    assert inline.status_code == 200, inline.text
    assert inline.json()["output_columns"] == [
        {"name": "id", "type": "INT"}, {"name": "total", "type": "DECIMAL"},
    ]  # fmt: skip
    unknown = await client.post(
        "/api/v1/sql/validate",
        headers=user.headers,
        json={"sql": "SELECT id FROM customers", "dialect": "postgres", "catalog": INLINE_CATALOG},
    )
    assert assert_problem(unknown, 422, "INVALID_SQL")["errors"][0]["code"] == "UNKNOWN_TABLE"
    ws = await make_workspace(client, user)
    ds = await create_datasource(client, user, ws, source)
    live = await client.post(
        "/api/v1/sql/validate",
        headers=user.headers,
        json={
            "sql": "SELECT c.name, sum(o.total) AS spent FROM customers c "
            "JOIN orders o ON o.customer_id = c.id GROUP BY c.name",
            "dialect": "postgres",
            "datasource_id": ds["id"],
        },
    )
    assert live.status_code == 200, live.text
    assert [c["name"] for c in live.json()["output_columns"]] == ["name", "spent"]
    stranger = await signup(client, "stranger")
    hidden = await client.post(
        "/api/v1/sql/validate",
        headers=stranger.headers,
        json={"sql": "SELECT 1", "dialect": "postgres", "datasource_id": ds["id"]},
    )
    assert_problem(hidden, 404, "DATASOURCE_NOT_FOUND")
    both = await client.post(
        "/api/v1/sql/validate",
        headers=user.headers,
        json={
            "sql": "SELECT 1",
            "dialect": "postgres",
            "datasource_id": ds["id"],
            "catalog": INLINE_CATALOG,
        },
    )
    assert_problem(both, 400, "VALIDATION_FAILED")


async def test_transpile_and_request_validation(client):
    user = await signup(client, "sql")
    ok = await client.post(
        "/api/v1/sql/transpile",
        headers=user.headers,
        json={"sql": "SELECT x FROM t FETCH FIRST 5 ROWS ONLY", "from": "postgres", "to": "mysql"},
    )
    assert ok.status_code == 200 and ok.json() == {"sql": "SELECT x FROM t LIMIT 5", "warnings": []}
    bad_dialect = await client.post(
        "/api/v1/sql/parse", headers=user.headers, json={"sql": "SELECT 1", "dialect": "klingon"}
    )
    assert_problem(bad_dialect, 400, "VALIDATION_FAILED")
    too_long = await client.post(
        "/api/v1/sql/parse",
        headers=user.headers,
        json={"sql": "SELECT 1" + " " * 100_000, "dialect": "postgres"},
    )
    assert_problem(too_long, 400, "VALIDATION_FAILED")
    anonymous = await client.post(
        "/api/v1/sql/parse", json={"sql": "SELECT 1", "dialect": "postgres"}
    )
    assert_problem(anonymous, 401, "UNAUTHORIZED")


async def test_one_trace_runs_from_the_http_request_into_the_peer(client, spans, sql_peer):
    user = await signup(client, "trace")
    spans.clear()
    marker = f"SELECT {uuid.uuid4().int % 10**9} AS marker"
    response = await client.post(
        "/api/v1/sql/parse", headers=user.headers, json={"sql": marker, "dialect": "postgres"}
    )
    assert response.status_code == 200
    finished = spans.get_finished_spans()
    [server] = [s for s in finished if s.kind.name == "SERVER"]
    [grpc_span] = [s for s in finished if s.name == "grpc calcite/Parse"]
    assert grpc_span.context.trace_id == server.context.trace_id
    assert grpc_span.kind.name == "CLIENT" and grpc_span.attributes["rpc.grpc.status_code"] == "OK"
    trace_id = format(server.context.trace_id, "032x")
    for _ in range(50):
        seen = [c["traceparent"] for c in sql_peer.calls() if trace_id in str(c["traceparent"])]
        if seen:
            break
        await asyncio.sleep(0.05)
    [traceparent] = seen
    version, peer_trace, parent_span, _flags = str(traceparent).split("-")
    assert (version, peer_trace) == ("00", trace_id)
    assert parent_span == format(grpc_span.context.span_id, "016x")


async def test_a_down_peer_means_503_with_retry_after_and_a_degraded_readiness(settings, work_dir):
    peer = PeerProcess(work_dir, "rest-breaker")
    peer.start()
    try:
        async with running_app(
            settings,
            calcite_target=peer.target,
            grpc_retry_attempts=1,
            grpc_breaker_threshold=2,
            grpc_breaker_reset_s=1.0,
        ) as (_, client):
            user = await signup(client, "outage")
            call = lambda: client.post(  # noqa: E731
                "/api/v1/sql/parse",
                headers=user.headers,
                json={"sql": "SELECT 1", "dialect": "postgres"},
            )
            assert (await call()).status_code == 200
            peer.kill()
            first = await call()
            assert_problem(first, 503, "PEER_UNAVAILABLE")
            assert int(first.headers["Retry-After"]) >= 1
            await call()
            opened = await call()  # the breaker is open now: no call reaches the socket
            assert "circuit open" in assert_problem(opened, 503, "PEER_UNAVAILABLE")["detail"]
            assert opened.headers["Retry-After"] == "1"
            metrics = (await client.get("/metrics")).text
            assert 'lowcode_grpc_breaker_state{peer="calcite"} 2.0' in metrics
            assert 'code="BREAKER_OPEN",method="Parse",peer="calcite"' in metrics
            ready = await client.get("/health/ready")
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            check = ready.json()["checks"]["peer:calcite"]
            assert check["status"] == "fail" and check["required"] is False
            peer.start()
            await asyncio.sleep(1.1)
            assert (await call()).status_code == 200
            metrics = (await client.get("/metrics")).text
            assert 'lowcode_grpc_breaker_state{peer="calcite"} 0.0' in metrics
            assert (await client.get("/health/ready")).json()["status"] == "ok"
    finally:
        peer.stop()


async def test_sql_that_defeats_the_analyser_is_a_422_not_a_5xx(client):
    user = await signup(client, "deep")
    nested = "SELECT " + "(" * 5000 + "1" + ")" * 5000
    for path, body in (
        ("/api/v1/sql/parse", {"sql": nested, "dialect": "postgres"}),
        ("/api/v1/sql/validate", {"sql": nested, "dialect": "postgres", "catalog": INLINE_CATALOG}),
        ("/api/v1/sql/transpile", {"sql": nested, "from": "postgres", "to": "mysql"}),
    ):
        response = await client.post(path, headers=user.headers, json=body)
        assert (
            assert_problem(response, 422, "INVALID_SQL")["errors"][0]["code"] == "ANALYSIS_FAILED"
        )
