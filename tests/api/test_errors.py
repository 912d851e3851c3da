"""The error contract: problem+json everywhere, all validation errors, languages, request ids."""

import pytest

from lowcode.identity import service as identity_service
from tests.support import assert_problem, unique_email


async def test_unknown_path_is_a_404_problem_with_request_id(client):
    response = await client.get("/api/v1/does-not-exist")
    body = assert_problem(response, 404, "NOT_FOUND")
    assert body["title"] == "Resource not found"


async def test_chinese_title_when_the_client_prefers_it(client):
    response = await client.get("/api/v1/does-not-exist", headers={"Accept-Language": "zh-CN"})
    assert assert_problem(response, 404, "NOT_FOUND")["title"] == "资源不存在"


async def test_wrong_method_is_a_405_problem(client):
    response = await client.delete("/health/live")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")


async def test_a_body_breaking_two_rules_lists_both(client):
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "not-an-email", "password": "short", "display_name": "Ada"},
    )
    body = assert_problem(response, 400, "VALIDATION_FAILED")
    fields = {(e["field"], e["in"]) for e in body["errors"]}
    assert fields == {("email", "body"), ("password", "body")}


async def test_missing_and_unexpected_properties_are_all_reported(client):
    response = await client.post("/api/v1/auth/register", json={"email": "a@b.co", "admin": True})
    body = assert_problem(response, 400, "VALIDATION_FAILED")
    messages = " ".join(e["message"] for e in body["errors"])
    assert {e["field"] for e in body["errors"]} >= {"password", "display_name"}
    assert "admin" in messages


async def test_malformed_json_is_a_400_problem(client):
    response = await client.post(
        "/api/v1/auth/register", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "BAD_REQUEST")


async def test_unsupported_media_type_is_a_problem(client):
    response = await client.post(
        "/api/v1/auth/register", content=b"x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_a_sane_client_request_id_is_kept_and_a_bad_one_replaced(client):
    kept = await client.get("/health/live", headers={"X-Request-ID": "client-abc.123"})
    assert kept.headers["x-request-id"] == "client-abc.123"
    replaced = await client.get("/health/live", headers={"X-Request-ID": "bad id\twith tab"})
    assert replaced.headers["x-request-id"] != "bad id\twith tab"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_unexpected_exception_is_a_500_without_internals_and_logged_with_stack(
    client, logs, monkeypatch: pytest.MonkeyPatch
):
    async def explode(*_args, **_kwargs):
        raise RuntimeError("internal detail: db password is hunter2")

    monkeypatch.setattr(identity_service, "register_user", explode)
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": unique_email(), "password": "long enough", "display_name": "Ada"},
    )
    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    errors = [line for line in logs.lines("lowcode.errors")]
    assert errors and "Traceback" in errors[-1]["exc_info"]
    assert errors[-1]["request_id"] == body["request_id"]
