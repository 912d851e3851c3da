"""One JSON access-log line per request, with every field, secrets redacted, bodies truncated."""

import uuid

from lowcode.platform.redaction import TRUNCATED_MARKER
from tests.support import unique_email

FIELDS = {
    "method",
    "path",
    "query",
    "status",
    "duration_ms",
    "request_id",
    "trace_id",
    "ip",
    "user_agent",
    "user_id",
    "request_body",
    "response_body",
}


def access_lines(logs):
    return logs.lines("lowcode.access")


async def test_login_like_request_logs_every_field_with_the_password_redacted(client, logs):
    email = unique_email()
    response = await client.post(
        "/api/v1/auth/register?ref=x&access_token=tok-secret",
        json={"email": email, "password": "pw-super-secret", "display_name": "Ada"},
        headers={"User-Agent": "pytest-agent", "Authorization": "Bearer abc.def"},
    )
    assert response.status_code == 400  # unknown query parameters are rejected (strict)
    [line] = access_lines(logs)
    assert set(line) >= FIELDS
    assert line["method"] == "POST" and line["status"] == 400
    assert line["path"] == "/api/v1/auth/register"
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["ip"] == "203.0.113.7" and line["user_agent"] == "pytest-agent"
    assert "[REDACTED]" in line["request_body"] and email in line["request_body"]
    assert "tok-secret" not in line["query"] and "ref=x" in line["query"]
    assert "pw-super-secret" not in logs.text()
    assert "tok-secret" not in logs.text() and "abc.def" not in logs.text()
    assert line["trace_id"] and len(line["trace_id"]) == 32


async def test_a_60_kb_body_is_truncated_with_the_marker(client, logs):
    # A page route: auth bodies are capped well below 60 KB (413, not logged).
    response = await client.post(
        f"/api/v1/workspaces/{uuid.uuid4()}/pages", json={"title": "x" * 60_000}
    )
    assert response.status_code == 401
    [line] = access_lines(logs)
    assert line["request_body"].endswith(TRUNCATED_MARKER)
    assert len(line["request_body"]) == 50 * 1024 + len(TRUNCATED_MARKER)


async def test_404_and_validation_failures_are_logged_too(client, logs):
    await client.get("/nowhere")
    await client.post("/api/v1/auth/register", json={})
    statuses = [(line["path"], line["status"]) for line in access_lines(logs)]
    assert statuses == [("/nowhere", 404), ("/api/v1/auth/register", 400)]
