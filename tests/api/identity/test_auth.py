"""Register, login, refresh, logout, sessions and password change (/api/v1/auth/*)."""

from __future__ import annotations

import uuid

import pytest

from tests.api.identity.support import decode_unverified
from tests.support import (
    assert_problem,
    bearer,
    login,
    login_again,
    new_password,
    register,
    unique_email,
)

ME = "/api/v1/users/me"


# --- register ---------------------------------------------------------------


async def test_registering_returns_the_new_user_with_the_user_role(client):
    email = unique_email("Reg")
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": new_password(), "display_name": "  Grace  "},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert uuid.UUID(body["id"])
    assert body["email"] == email
    assert body["display_name"] == "Grace"
    assert body["role"] == "user" and body["disabled"] is False
    assert set(body) == {
        "id",
        "email",
        "display_name",
        "role",
        "disabled",
        "created_at",
        "updated_at",
    }


async def test_registering_a_taken_email_in_another_letter_case_is_email_taken(client):
    user, _ = await register(client)
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": user["email"].upper(),
            "password": new_password(),
            "display_name": "Copycat",
        },
    )
    assert_problem(response, 409, "EMAIL_TAKEN")


async def test_registering_with_a_bad_email_a_short_password_and_no_name_lists_every_problem(
    client,
):
    response = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": "short"}
    )
    body = assert_problem(response, 400, "VALIDATION_FAILED")
    assert {e["field"] for e in body["errors"]} == {"email", "password", "display_name"}


@pytest.mark.parametrize(
    ("field", "blank"), [("display_name", "   "), ("email", "  @  ")], ids=["name", "email"]
)
async def test_registering_a_name_or_email_that_is_blank_once_trimmed_is_a_validation_error(
    client, field, blank
):
    body = {
        "email": unique_email(),
        "password": new_password(),
        "display_name": "Ada",
        field: blank,
    }
    response = await client.post("/api/v1/auth/register", json=body)
    assert_problem(response, 400, "VALIDATION_FAILED")


async def test_registering_cannot_choose_the_admin_role(client):
    email = unique_email()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": new_password(), "display_name": "Eve", "role": "admin"},
    )
    assert_problem(response, 400, "VALIDATION_FAILED")
    # …and nothing was created: the email is still free.
    user, _ = await register(client, email=email)
    assert user["role"] == "user"


# --- login ------------------------------------------------------------------


async def test_logging_in_returns_a_bearer_token_pair_that_authenticates(client):
    user, password = await register(client)
    response = await client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": password}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    pair = response.json()
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 15 * 60
    assert uuid.UUID(pair["session_id"])
    assert pair["access_token"].count(".") == 2 and pair["refresh_token"]
    me = await client.get(ME, headers=bearer(pair["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    header, claims = decode_unverified(pair["access_token"])
    assert header["alg"] == "HS256"
    assert (claims["sub"], claims["sid"], claims["role"]) == (
        user["id"],
        pair["session_id"],
        "user",
    )
    assert claims["exp"] - claims["iat"] == pair["expires_in"]


async def test_logging_in_ignores_the_letter_case_of_the_email(client):
    user, password = await register(client, email=unique_email("MixedCase"))
    pair = await login(client, user["email"].upper(), password)
    me = await client.get(ME, headers=bearer(pair["access_token"]))
    assert me.json()["id"] == user["id"]


async def test_a_wrong_password_and_an_unknown_email_get_the_same_invalid_credentials(client):
    user, _ = await register(client)
    wrong_password = await client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": "not the password"}
    )
    unknown_email = await client.post(
        "/api/v1/auth/login", json={"email": unique_email("nobody"), "password": "whatever!"}
    )
    first = assert_problem(wrong_password, 401, "INVALID_CREDENTIALS")
    second = assert_problem(unknown_email, 401, "INVALID_CREDENTIALS")
    assert (first["title"], first["detail"]) == (second["title"], second["detail"])


async def test_a_disabled_user_with_the_right_password_gets_account_disabled(
    client, new_user, new_admin
):
    admin, user = await new_admin(), await new_user()
    disable = await client.patch(
        f"/api/v1/users/{user.id}", json={"disabled": True}, headers=admin.headers
    )
    assert disable.status_code == 200, disable.text
    right = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert_problem(right, 403, "ACCOUNT_DISABLED")
    # A wrong password still says nothing about the account.
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "not the password"}
    )
    assert_problem(wrong, 401, "INVALID_CREDENTIALS")


# --- refresh ----------------------------------------------------------------


async def test_refreshing_rotates_both_tokens_within_the_same_session(client, new_user):
    user = await new_user()
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    pair = response.json()
    assert pair["session_id"] == user.session_id
    assert pair["refresh_token"] != user.refresh_token
    assert pair["access_token"] != user.access_token
    assert (await client.get(ME, headers=bearer(pair["access_token"]))).status_code == 200
    # The session's earlier access token stays valid until it expires.
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    # The successor refresh token works in turn.
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 200 and again.json()["session_id"] == user.session_id


async def test_an_unknown_refresh_token_is_token_invalid(client):
    response = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": f"never-issued-{uuid.uuid4().hex}"}
    )
    assert_problem(response, 401, "TOKEN_INVALID")


# --- logout -----------------------------------------------------------------


async def test_logging_out_ends_the_session_and_is_idempotent(client, new_user):
    user = await new_user()
    first = await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert first.status_code == 204 and first.content == b""
    second = await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert second.status_code == 204

    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_problem(refresh, 401, "SESSION_REVOKED")
    assert_problem(await client.get(ME, headers=user.headers), 401, "SESSION_REVOKED")


async def test_logging_out_with_an_unknown_refresh_token_is_no_error(client):
    response = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": f"never-issued-{uuid.uuid4().hex}"}
    )
    assert response.status_code == 204


async def test_logging_out_leaves_the_users_other_sessions_alone(client, new_user):
    user = await new_user()
    other = await login_again(client, user)
    await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert (await client.get(ME, headers=other.headers)).status_code == 200


# --- sessions ---------------------------------------------------------------


async def test_listing_sessions_marks_only_the_calling_session_as_current(client, new_user):
    first = await new_user()
    second = await login_again(client, first)

    response = await client.get("/api/v1/auth/sessions", headers=first.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "page", "page_size", "total"}
    assert (body["page"], body["page_size"], body["total"]) == (1, 20, 2)
    current = {s["id"]: s["current"] for s in body["items"]}
    assert current == {first.session_id: True, second.session_id: False}
    assert all(s["ip"] == "203.0.113.7" for s in body["items"])

    seen_by_second = await client.get("/api/v1/auth/sessions", headers=second.headers)
    flags = {s["id"]: s["current"] for s in seen_by_second.json()["items"]}
    assert flags == {first.session_id: False, second.session_id: True}


async def test_sessions_are_listed_most_recently_used_first_with_their_client(client, new_user):
    user = await new_user()
    newer = await login_again(client, user)
    listed = (await client.get("/api/v1/auth/sessions", headers=user.headers)).json()
    assert [s["id"] for s in listed["items"]] == [newer.session_id, user.session_id]
    assert all(s["user_agent"].startswith("python-httpx/") for s in listed["items"])

    # Refreshing uses the older session, which moves it to the top.
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}
    )
    assert refreshed.status_code == 200
    listed = (await client.get("/api/v1/auth/sessions", headers=user.headers)).json()
    assert [s["id"] for s in listed["items"]] == [user.session_id, newer.session_id]


async def test_sessions_are_paginated(client, new_user):
    user = await new_user()
    other = await login_again(client, user)
    third = await login_again(client, user)

    page1 = await client.get("/api/v1/auth/sessions", params={"page_size": 2}, headers=user.headers)
    page2 = await client.get(
        "/api/v1/auth/sessions", params={"page": 2, "page_size": 2}, headers=user.headers
    )
    assert page1.status_code == page2.status_code == 200
    one, two = page1.json(), page2.json()
    assert (one["page"], one["page_size"], one["total"], len(one["items"])) == (1, 2, 3, 2)
    assert (two["page"], two["page_size"], two["total"], len(two["items"])) == (2, 2, 3, 1)
    ids = {s["id"] for s in one["items"] + two["items"]}
    assert ids == {user.session_id, other.session_id, third.session_id}


async def test_session_listing_rejects_a_page_size_over_100(client, new_user):
    user = await new_user()
    response = await client.get(
        "/api/v1/auth/sessions", params={"page_size": 101}, headers=user.headers
    )
    assert_problem(response, 400, "VALIDATION_FAILED")


async def test_revoking_one_of_my_sessions_ends_its_tokens(client, new_user):
    user = await new_user()
    other = await login_again(client, user)

    response = await client.delete(
        f"/api/v1/auth/sessions/{other.session_id}", headers=user.headers
    )
    assert response.status_code == 204, response.text

    assert_problem(await client.get(ME, headers=other.headers), 401, "SESSION_REVOKED")
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": other.refresh_token})
    assert_problem(refresh, 401, "SESSION_REVOKED")
    listed = (await client.get("/api/v1/auth/sessions", headers=user.headers)).json()
    assert [s["id"] for s in listed["items"]] == [user.session_id] and listed["total"] == 1


async def test_revoking_another_users_session_is_session_not_found(client, new_user):
    me, stranger = await new_user(), await new_user()
    response = await client.delete(
        f"/api/v1/auth/sessions/{stranger.session_id}", headers=me.headers
    )
    assert_problem(response, 404, "SESSION_NOT_FOUND")
    assert (await client.get(ME, headers=stranger.headers)).status_code == 200


async def test_revoking_an_unknown_session_is_session_not_found(client, new_user):
    user = await new_user()
    response = await client.delete(f"/api/v1/auth/sessions/{uuid.uuid4()}", headers=user.headers)
    assert_problem(response, 404, "SESSION_NOT_FOUND")


# --- password ---------------------------------------------------------------


async def test_changing_the_password_with_a_wrong_current_password_is_invalid_credentials(
    client, new_user
):
    user = await new_user()
    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "not the password", "new_password": new_password()},
        headers=user.headers,
    )
    assert_problem(response, 401, "INVALID_CREDENTIALS")
    # Nothing changed: the old password still works and the session too.
    await login(client, user.email, user.password)
    assert (await client.get(ME, headers=user.headers)).status_code == 200


async def test_changing_the_password_revokes_other_sessions_but_keeps_the_current_one(
    client, new_user
):
    user = await new_user()
    other = await login_again(client, user)
    password = new_password()

    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": user.password, "new_password": password},
        headers=user.headers,
    )
    assert response.status_code == 204, response.text

    assert (await client.get(ME, headers=user.headers)).status_code == 200
    kept = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert kept.status_code == 200, kept.text

    assert_problem(await client.get(ME, headers=other.headers), 401, "SESSION_REVOKED")
    revoked = await client.post("/api/v1/auth/refresh", json={"refresh_token": other.refresh_token})
    assert_problem(revoked, 401, "SESSION_REVOKED")

    await login(client, user.email, password)
    old = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert_problem(old, 401, "INVALID_CREDENTIALS")


async def test_a_new_password_shorter_than_8_characters_is_refused(client, new_user):
    user = await new_user()
    response = await client.post(
        "/api/v1/auth/password",
        json={"current_password": user.password, "new_password": "short"},
        headers=user.headers,
    )
    body = assert_problem(response, 400, "VALIDATION_FAILED")
    assert [e["field"] for e in body["errors"]] == ["new_password"]
    await login(client, user.email, user.password)
