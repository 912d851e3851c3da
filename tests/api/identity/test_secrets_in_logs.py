"""Passwords and tokens never reach the logs; the access log names the caller."""

from __future__ import annotations

from tests.support import bearer, new_password, unique_email


async def test_passwords_and_tokens_never_appear_in_the_logs(client, logs, age_rotation):
    email, password, new = unique_email("logs"), new_password(), new_password()
    wrong = f"wrong-{new_password()}"

    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": "Logged"},
    )
    assert registered.status_code == 201, registered.text
    user_id = registered.json()["id"]
    failed = await client.post("/api/v1/auth/login", json={"email": email, "password": wrong})
    assert failed.status_code == 401
    first = (
        await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    ).json()
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    me = await client.get(
        "/api/v1/users/me", headers={**bearer(second["access_token"]), "X-Request-ID": "me-call"}
    )
    assert me.status_code == 200, me.text
    changed = await client.post(
        "/api/v1/auth/password",
        json={"current_password": password, "new_password": new},
        headers=bearer(second["access_token"]),
    )
    assert changed.status_code == 204, changed.text
    # A reuse (after the reuse interval) is logged as a warning — by session id, not by token.
    await age_rotation(first["refresh_token"])
    reuse = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reuse.status_code == 401

    text = logs.text()
    access = logs.lines("lowcode.access")
    assert [line["path"] for line in access] == [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/users/me",
        "/api/v1/auth/password",
        "/api/v1/auth/refresh",
    ]
    secrets = {
        "password": password,
        "new password": new,
        "wrong password": wrong,
        "first access token": first["access_token"],
        "second access token": second["access_token"],
        "access token signature": second["access_token"].rsplit(".", 1)[1],
        "first refresh token": first["refresh_token"],
        "second refresh token": second["refresh_token"],
    }
    leaked = [name for name, secret in secrets.items() if secret in text]
    assert leaked == []

    [me_line] = [line for line in access if line["request_id"] == "me-call"]
    assert me_line["user_id"] == user_id and me_line["status"] == 200
    assert access[0]["user_id"] is None  # registering is anonymous


SHORT = "hunter8"  # 7 characters: under the minimum
LONG = "correct-horse-" * 10  # 140 characters: over the maximum


async def test_a_refused_password_is_never_echoed_in_the_problem_or_the_logs(client, logs):
    responses = [
        await client.post(
            "/api/v1/auth/register",
            json={"email": unique_email("short"), "password": pw, "display_name": "S"},
        )
        for pw in (SHORT, LONG)
    ]
    responses.append(
        await client.post("/api/v1/auth/login", json={"email": unique_email(), "password": LONG})
    )
    for response in responses:
        assert response.status_code == 400, response.text
        assert SHORT not in response.text and LONG not in response.text
        assert response.json()["errors"][0]["field"] == "password"
    text = logs.text()
    assert SHORT not in text and LONG not in text


async def test_non_json_and_escaped_bodies_are_not_logged_in_clear(client, logs):
    secret = f"s3cret-{unique_email()}"
    body = f'{{"email":"{unique_email()}","password":"{secret}"}}'
    for ctype in ("text/plain;charset=UTF-8", None, "application/octet-stream"):
        headers = {"Content-Type": ctype} if ctype else {}
        response = await client.post("/api/v1/auth/login", content=body, headers=headers)
        assert 400 <= response.status_code < 500
    # A key written with an escape is the same key to the JSON parser.
    escaped = f'{{"email":"{unique_email()}","pass\\u0077ord":"{secret}"}}'
    response = await client.post(
        "/api/v1/auth/login", content=escaped, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 401)
    assert secret not in logs.text()
    logged = [line["request_body"] for line in logs.lines("lowcode.access")]
    assert len(logged) == 4
    assert logged[0].startswith("<") and "bytes" in logged[0]


async def test_a_refused_query_parameter_is_not_echoed(client, new_user, new_workspace):
    user = await new_user()
    ws = await new_workspace(user)
    marker = "hunter2-not-a-sort-key"
    response = await client.get(
        f"/api/v1/workspaces/{ws['id']}/pages", params={"sort": marker}, headers=user.headers
    )
    assert response.status_code == 400, response.text
    assert marker not in response.text
    assert response.json()["errors"][0]["field"] == "sort"
