"""OpenTelemetry spans for HTTP and SQL, joined to the access log by trace id."""

from tests.support import unique_email


async def test_a_request_produces_http_and_named_sql_spans_in_one_trace(client, spans, logs):
    spans.clear()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": "long enough", "display_name": "Ada"},
    )
    assert response.status_code == 201
    finished = spans.get_finished_spans()
    server = [s for s in finished if s.kind.name == "SERVER"]
    sql = [s for s in finished if s.name == "sql identity.insert_user"]
    driver = [s for s in finished if s.attributes.get("db.system") == "postgresql"]
    assert server and sql and driver
    trace_id = server[0].context.trace_id
    assert sql[0].context.trace_id == trace_id
    assert sql[0].attributes["db.query.name"] == "identity.insert_user"
    assert any(d.context.trace_id == trace_id for d in driver)
    [line] = logs.lines("lowcode.access")
    assert line["trace_id"] == format(trace_id, "032x")
