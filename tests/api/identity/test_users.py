"""My profile (/users/me), user administration (/users, admin only) and the JWKS."""

from __future__ import annotations

import uuid

import pytest

from tests.support import assert_problem, login, unique_email

ME = "/api/v1/users/me"


# --- /users/me --------------------------------------------------------------


async def test_i_can_read_my_profile(client, new_user):
    user = await new_user()
    response = await client.get(ME, headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["email"], body["display_name"]) == (
        user.id,
        user.email,
        user.display_name,
    )
    assert body["role"] == "user" and body["disabled"] is False


async def test_i_can_change_my_display_name(client, new_user):
    user = await new_user()
    response = await client.patch(ME, json={"display_name": "  Ada L.  "}, headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "Ada L." and body["id"] == user.id
    assert body["updated_at"] >= body["created_at"]
    assert (await client.get(ME, headers=user.headers)).json()["display_name"] == "Ada L."


async def test_my_profile_update_cannot_change_my_role_or_email(client, new_user):
    user = await new_user()
    response = await client.patch(
        ME, json={"display_name": "X", "role": "admin", "email": "x@y.zz"}, headers=user.headers
    )
    assert_problem(response, 400, "VALIDATION_FAILED")
    body = (await client.get(ME, headers=user.headers)).json()
    assert body["role"] == "user" and body["email"] == user.email


async def test_a_blank_display_name_is_refused(client, new_user):
    user = await new_user()
    response = await client.patch(ME, json={"display_name": "   "}, headers=user.headers)
    assert_problem(response, 400, "VALIDATION_FAILED")
    assert (await client.get(ME, headers=user.headers)).json()["display_name"] == user.display_name


async def test_an_empty_display_name_is_refused(client, new_user):
    user = await new_user()
    response = await client.patch(ME, json={"display_name": ""}, headers=user.headers)
    body = assert_problem(response, 400, "VALIDATION_FAILED")
    assert {e["field"] for e in body["errors"]} == {"display_name"}


# --- GET /users (admin search) ----------------------------------------------


async def _tagged_users(new_user_id, tag: str, count: int) -> list[str]:
    return [await new_user_id(email=unique_email(f"{tag}{i}")) for i in range(count)]


async def test_admins_search_users_by_email_or_display_name_ignoring_case(
    client, new_admin, new_user_id
):
    admin = await new_admin()
    tag = f"srch{uuid.uuid4().hex[:8]}"
    by_email = await new_user_id(email=unique_email(tag), display_name="Plain Name")
    by_name = await new_user_id(display_name=f"Named {tag} Person")
    await new_user_id(display_name="Someone else")

    response = await client.get("/api/v1/users", params={"q": tag.upper()}, headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "page", "page_size", "total"}
    assert body["total"] == 2
    assert [u["id"] for u in body["items"]] == [by_email, by_name]  # oldest first


async def test_admins_filter_users_by_role_and_disabled(client, new_admin, new_user_id):
    admin = await new_admin()
    tag = f"filt{uuid.uuid4().hex[:8]}"
    plain, promoted, disabled = await _tagged_users(new_user_id, tag, 3)
    for target, change in ((promoted, {"role": "admin"}), (disabled, {"disabled": True})):
        response = await client.patch(f"/api/v1/users/{target}", json=change, headers=admin.headers)
        assert response.status_code == 200, response.text

    async def ids(**params):
        response = await client.get(
            "/api/v1/users", params={"q": tag, **params}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        return [u["id"] for u in response.json()["items"]]

    assert await ids() == [plain, promoted, disabled]
    assert await ids(role="admin") == [promoted]
    assert await ids(disabled="true") == [disabled]
    assert await ids(role="user", disabled="false") == [plain]


async def test_user_search_is_paginated(client, new_admin, new_user_id):
    admin = await new_admin()
    tag = f"page{uuid.uuid4().hex[:8]}"
    users = await _tagged_users(new_user_id, tag, 3)

    async def page(n):
        response = await client.get(
            "/api/v1/users", params={"q": tag, "page": n, "page_size": 2}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    first, second, third = await page(1), await page(2), await page(3)
    assert (first["page"], first["page_size"], first["total"]) == (1, 2, 3)
    assert [u["id"] for u in first["items"] + second["items"]] == users
    assert third["items"] == [] and third["total"] == 3


@pytest.mark.parametrize(
    ("wildcard", "decoy"), [("%", "Q"), ("_", "Q")], ids=["percent", "underscore"]
)
async def test_a_like_wildcard_in_the_search_matches_only_itself(
    client, new_admin, new_user_id, wildcard, decoy
):
    admin = await new_admin()
    tag = uuid.uuid4().hex[:8]
    literal = await new_user_id(display_name=f"x{tag}{wildcard}y")
    # Would match too if the wildcard were not escaped.
    await new_user_id(display_name=f"x{tag}{decoy}y")

    response = await client.get(
        "/api/v1/users", params={"q": f"{tag}{wildcard}y"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert [u["id"] for u in response.json()["items"]] == [literal]


async def test_a_backslash_in_the_search_matches_only_itself(client, new_admin, new_user_id):
    admin = await new_admin()
    tag = uuid.uuid4().hex[:8]
    literal = await new_user_id(display_name=f"{tag}\\%z")
    await new_user_id(display_name=f"{tag}%z")
    response = await client.get("/api/v1/users", params={"q": f"{tag}\\%"}, headers=admin.headers)
    assert [u["id"] for u in response.json()["items"]] == [literal]


ADMIN_ROUTES = [
    ("GET", "/api/v1/users", None),
    ("GET", "/api/v1/users/{id}", None),
    ("PATCH", "/api/v1/users/{id}", {"role": "admin"}),
    ("DELETE", "/api/v1/users/{id}", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), ADMIN_ROUTES, ids=["list", "get", "update", "delete"]
)
async def test_user_administration_is_forbidden_to_non_admins(client, new_user, method, path, body):
    user, other = await new_user(), await new_user()
    response = await client.request(
        method, path.format(id=other.id), json=body, headers=user.headers
    )
    assert_problem(response, 403, "FORBIDDEN")
    # Nothing happened to the target, and the caller is still a plain user.
    assert (await client.get(ME, headers=other.headers)).json()["role"] == "user"
    assert (await client.get(ME, headers=user.headers)).json()["role"] == "user"


# --- /users/{id} ------------------------------------------------------------


async def test_admins_read_any_user(client, new_admin, new_user):
    admin, user = await new_admin(), await new_user()
    response = await client.get(f"/api/v1/users/{user.id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == user.email


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PATCH", {"role": "user"}), ("DELETE", None)]
)
async def test_an_unknown_user_id_is_user_not_found(client, new_admin, method, body):
    admin = await new_admin()
    response = await client.request(
        method, f"/api/v1/users/{uuid.uuid4()}", json=body, headers=admin.headers
    )
    assert_problem(response, 404, "USER_NOT_FOUND")


async def test_promoting_a_user_gives_their_live_session_admin_rights_at_once(
    client, new_admin, new_user
):
    admin, user = await new_admin(), await new_user()
    assert (await client.get("/api/v1/users", headers=user.headers)).status_code == 403

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"
    assert (await client.get("/api/v1/users", headers=user.headers)).status_code == 200

    demoted = await client.patch(
        f"/api/v1/users/{user.id}", json={"role": "user"}, headers=admin.headers
    )
    assert demoted.json()["role"] == "user"
    assert_problem(await client.get("/api/v1/users", headers=user.headers), 403, "FORBIDDEN")


async def test_disabling_a_user_ends_their_sessions_at_once_and_blocks_login(
    client, new_admin, new_user
):
    admin, user = await new_admin(), await new_user()
    assert (await client.get(ME, headers=user.headers)).status_code == 200  # state now cached

    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"disabled": True}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is True

    assert_problem(await client.get(ME, headers=user.headers), 401, "SESSION_REVOKED")
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_problem(refresh, 401, "SESSION_REVOKED")
    login_response = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert_problem(login_response, 403, "ACCOUNT_DISABLED")


async def test_a_re_enabled_user_can_log_in_again(client, new_admin, new_user):
    admin, user = await new_admin(), await new_user()
    for disabled in (True, False):
        response = await client.patch(
            f"/api/v1/users/{user.id}", json={"disabled": disabled}, headers=admin.headers
        )
        assert response.json()["disabled"] is disabled
    await login(client, user.email, user.password)
    # The sessions ended by disabling stay ended.
    assert_problem(await client.get(ME, headers=user.headers), 401, "SESSION_REVOKED")


@pytest.mark.parametrize(
    "change", [{"disabled": True}, {"role": "user"}], ids=["disable", "demote"]
)
async def test_an_admin_cannot_disable_or_demote_themselves(client, new_admin, change):
    admin = await new_admin()
    response = await client.patch(f"/api/v1/users/{admin.id}", json=change, headers=admin.headers)
    assert_problem(response, 403, "FORBIDDEN")
    me = (await client.get(ME, headers=admin.headers)).json()
    assert me["role"] == "admin" and me["disabled"] is False


async def test_an_admin_update_needs_at_least_one_field(client, new_admin, new_user):
    admin, user = await new_admin(), await new_user()
    response = await client.patch(f"/api/v1/users/{user.id}", json={}, headers=admin.headers)
    assert_problem(response, 400, "VALIDATION_FAILED")


async def test_deleting_a_user_removes_the_account_and_its_sessions(client, new_admin, new_user):
    admin, user = await new_admin(), await new_user()
    response = await client.delete(f"/api/v1/users/{user.id}", headers=admin.headers)
    assert response.status_code == 204, response.text

    gone = await client.get(f"/api/v1/users/{user.id}", headers=admin.headers)
    assert_problem(gone, 404, "USER_NOT_FOUND")
    assert (await client.get(ME, headers=user.headers)).status_code == 401
    login_response = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert_problem(login_response, 401, "INVALID_CREDENTIALS")


async def test_deleting_a_workspaces_only_owner_is_refused_until_another_owner_exists(
    client, new_admin, new_user, new_workspace
):
    admin, owner, co_owner = await new_admin(), await new_user(), await new_user()
    workspace = await new_workspace(owner)

    refused = await client.delete(f"/api/v1/users/{owner.id}", headers=admin.headers)
    body = assert_problem(refused, 409, "LAST_OWNER")
    assert body.get("workspaces") == [workspace["id"]]
    assert (await client.get(ME, headers=owner.headers)).status_code == 200

    added = await client.post(
        f"/api/v1/workspaces/{workspace['id']}/members",
        json={"user_id": co_owner.id, "role": "owner"},
        headers=owner.headers,
    )
    assert added.status_code == 201, added.text
    deleted = await client.delete(f"/api/v1/users/{owner.id}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text

    members = await client.get(
        f"/api/v1/workspaces/{workspace['id']}/members", headers=co_owner.headers
    )
    assert [(m["user_id"], m["role"]) for m in members.json()["items"]] == [(co_owner.id, "owner")]
    kept = await client.get(f"/api/v1/workspaces/{workspace['id']}", headers=co_owner.headers)
    assert kept.json()["created_by"] is None  # the creator is gone


async def test_an_admin_cannot_delete_themselves(client, new_admin):
    admin = await new_admin()
    response = await client.delete(f"/api/v1/users/{admin.id}", headers=admin.headers)
    assert_problem(response, 403, "FORBIDDEN")
    assert (await client.get(ME, headers=admin.headers)).status_code == 200


# --- JWKS -------------------------------------------------------------------


async def test_the_jwks_is_public_and_empty_with_a_shared_secret(client):
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    assert response.json() == {"keys": []}
    assert "max-age" in response.headers["cache-control"]


async def test_admin_checks_fail_closed(settings, new_user, new_admin):
    """Should the security handler lose track of operations (a Connexion routing
    change), nothing opens up: unknown operations are refused, and admin
    handlers check the role themselves."""
    from tests.support import running_app

    user, admin = await new_user(), await new_admin()
    async with running_app(settings) as (app, client):
        app.operation_scopes["listUsers"] = frozenset()  # as if the table lost `[admin]`
        response = await client.get("/api/v1/users", headers=user.headers)
        assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"
        assert (await client.get("/api/v1/users", headers=admin.headers)).status_code == 200

        app.operation_scopes.clear()  # no operation can be identified
        for who in (user, admin):
            response = await client.get("/api/v1/users/me", headers=who.headers)
            assert response.status_code == 403
