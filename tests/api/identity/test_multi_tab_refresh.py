"""Refresh with several tabs: reuse within REFRESH_REUSE_INTERVAL_S is not theft.

Each tab holds the refresh token from local storage. When two refresh at
once, the second presents a token the first has just rotated; within the
reuse interval it gets the same successor (one token family, nobody logged
out). After the interval, presenting a rotated token is reuse as before and
revokes the whole session.
"""

from __future__ import annotations

from tests.api.identity.support import quick_user
from tests.support import assert_problem, bearer, running_app

REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/users/me"


async def refresh(client, token):
    return await client.post(REFRESH, json={"refresh_token": token})


async def test_a_second_tab_refreshing_moments_later_gets_the_same_successor(client, new_user):
    user = await new_user()
    first_tab = await refresh(client, user.refresh_token)
    second_tab = await refresh(client, user.refresh_token)
    assert first_tab.status_code == second_tab.status_code == 200, second_tab.text
    a, b = first_tab.json(), second_tab.json()
    assert a["refresh_token"] == b["refresh_token"] != user.refresh_token
    assert a["session_id"] == b["session_id"] == str(user.session_id)
    assert b["expires_in"] == a["expires_in"] and b["access_token"]
    assert (await client.get(ME, headers=bearer(b["access_token"]))).status_code == 200
    # Both tabs go on with the one successor; the family continues.
    onward = await refresh(client, b["refresh_token"])
    assert onward.status_code == 200
    assert (await client.get(ME, headers=bearer(onward.json()["access_token"]))).status_code == 200


async def test_reuse_after_the_interval_still_revokes_the_family(client, new_user, age_rotation):
    user = await new_user()
    rotated = (await refresh(client, user.refresh_token)).json()
    await age_rotation(user.refresh_token)
    assert_problem(await refresh(client, user.refresh_token), 401, "SESSION_REVOKED")
    # The thief's reuse took the whole family down, successor included.
    assert_problem(await refresh(client, rotated["refresh_token"]), 401, "SESSION_REVOKED")
    assert_problem(
        await client.get(ME, headers=bearer(rotated["access_token"])), 401, "SESSION_REVOKED"
    )


async def test_the_grace_never_revives_a_revoked_session(client, new_user):
    user = await new_user()
    rotated = (await refresh(client, user.refresh_token)).json()
    logout = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]}
    )
    assert logout.status_code == 204
    assert_problem(await refresh(client, user.refresh_token), 401, "SESSION_REVOKED")


async def test_with_no_interval_an_immediate_reuse_revokes(settings, fixture_password_hash):
    async with running_app(settings, refresh_reuse_interval_s=0) as (app, other):
        user = await quick_user(app, other, fixture_password_hash)
        assert (await refresh(other, user.refresh_token)).status_code == 200
        assert_problem(await refresh(other, user.refresh_token), 401, "SESSION_REVOKED")


async def test_the_successor_depends_on_the_server_key(settings):
    """Only the server can derive a successor: another key, another token."""
    from lowcode.identity.tokens import TokenService

    ours = TokenService(settings)
    theirs = TokenService(settings.model_copy(update={"jwt_secret": _secret("x" * 40)}))
    token = "a" * 43
    assert ours.successor_refresh_token(token) == ours.successor_refresh_token(token)
    assert ours.successor_refresh_token(token) != theirs.successor_refresh_token(token)
    assert ours.successor_refresh_token(token) != ours.successor_refresh_token("b" * 43)
    assert len(ours.successor_refresh_token(token)) == 43


def _secret(value):
    from pydantic import SecretStr

    return SecretStr(value)
