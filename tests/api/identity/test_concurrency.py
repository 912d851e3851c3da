"""Races the service must win: one refresh per token, one registration per email,
and a workspace never left without an owner."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import add_member, bearer, new_password, unique_email


@pytest.mark.parametrize("attempts", [2, 5])
async def test_simultaneous_refreshes_with_the_same_token_all_succeed_with_one_family(
    client, new_user, attempts
):
    """Tabs refreshing at the same moment (within REFRESH_REUSE_INTERVAL_S):
    one rotation, every caller gets the same successor, nobody is logged out."""
    user = await new_user()
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
            for _ in range(attempts)
        )
    )
    assert [r.status_code for r in responses] == [200] * attempts, [r.text for r in responses]
    successors = {r.json()["refresh_token"] for r in responses}
    assert len(successors) == 1 and user.refresh_token not in successors
    assert {r.json()["session_id"] for r in responses} == {str(user.session_id)}
    for r in responses:
        me = await client.get("/api/v1/users/me", headers=bearer(r.json()["access_token"]))
        assert me.status_code == 200
    # The family goes on from the one successor, once.
    [successor] = successors
    onward = await client.post("/api/v1/auth/refresh", json={"refresh_token": successor})
    assert onward.status_code == 200, onward.text
    assert onward.json()["refresh_token"] not in (successor, user.refresh_token)


async def test_simultaneous_registrations_of_one_email_create_one_user(client):
    email = unique_email("race")
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/auth/register",
                json={"email": spelled, "password": new_password(), "display_name": "Racer"},
            )
            for spelled in (email, email.upper())
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    [conflict] = [r for r in responses if r.status_code == 409]
    assert conflict.json()["code"] == "EMAIL_TAKEN"


async def _owners(client, workspace_id, viewer) -> list[str]:
    response = await client.get(
        f"/api/v1/workspaces/{workspace_id}/members", headers=viewer.headers
    )
    assert response.status_code == 200, response.text
    return [m["user_id"] for m in response.json()["items"] if m["role"] == "owner"]


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    client, new_user, new_workspace
):
    first, second = await new_user(), await new_user()
    workspace = await new_workspace(first)
    await add_member(client, first, workspace["id"], second, "owner")
    url = f"/api/v1/workspaces/{workspace['id']}/members"

    responses = await asyncio.gather(
        client.patch(f"{url}/{second.id}", json={"role": "editor"}, headers=first.headers),
        client.patch(f"{url}/{first.id}", json={"role": "editor"}, headers=second.headers),
    )
    assert sorted(r.status_code for r in responses).count(200) == 1, [r.text for r in responses]
    assert len(await _owners(client, workspace["id"], first)) == 1


async def test_two_owners_leaving_at_once_leave_one_owner(client, new_user, new_workspace):
    first, second = await new_user(), await new_user()
    workspace = await new_workspace(first)
    await add_member(client, first, workspace["id"], second, "owner")
    url = f"/api/v1/workspaces/{workspace['id']}/members"

    responses = await asyncio.gather(
        client.delete(f"{url}/{first.id}", headers=first.headers),
        client.delete(f"{url}/{second.id}", headers=second.headers),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [204, 409], [r.text for r in responses]
    [refused] = [r for r in responses if r.status_code == 409]
    assert refused.json()["code"] == "LAST_OWNER"
    stayed = first if refused is responses[0] else second
    assert await _owners(client, workspace["id"], stayed) == [stayed.id]
