"""Passwords and tokens never reach the logs; the access log names the caller."""

from __future__ import annotations

from tests.api.identity.conftest import bearer, new_password
from tests.conftest import unique_email


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
