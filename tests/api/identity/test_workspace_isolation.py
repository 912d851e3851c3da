"""Tenancy: a user outside workspace B gets WORKSPACE_NOT_FOUND on every B route —
never 403, so B's existence does not leak — and B is left untouched."""

from __future__ import annotations

import pytest

from tests.support import assert_problem

WS = "/api/v1/workspaces"

# (method, path, body); {ws} is B, {owner} is B's owner, {me} the outsider.
ROUTES = [
    ("GET", "{ws}", None),
    ("PATCH", "{ws}", {"name": "taken over", "version": 1}),
    ("DELETE", "{ws}", None),
    ("GET", "{ws}/members", None),
    ("POST", "{ws}/members", {"user_id": "{me}", "role": "owner"}),
    ("PATCH", "{ws}/members/{owner}", {"role": "viewer"}),
    ("PATCH", "{ws}/members/{me}", {"role": "owner"}),
    ("DELETE", "{ws}/members/{owner}", None),
    ("DELETE", "{ws}/members/{me}", None),
]
IDS = [
    "get-workspace",
    "update-workspace",
    "delete-workspace",
    "list-members",
    "add-myself-as-owner",
    "demote-the-owner",
    "promote-myself",
    "remove-the-owner",
    "leave",
]


def _fill(value, **names):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, **names) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=IDS)
async def test_a_member_of_another_workspace_gets_workspace_not_found_on_every_route(
    client, new_user, new_workspace, method, path, body
):
    outsider, owner_b = await new_user(), await new_user()
    await new_workspace(outsider)  # a member of workspace A, just not of B
    workspace_b = await new_workspace(owner_b)
    names = {"ws": workspace_b["id"], "owner": owner_b.id, "me": outsider.id}

    response = await client.request(
        method, f"{WS}/{_fill(path, **names)}", json=_fill(body, **names), headers=outsider.headers
    )
    assert_problem(response, 404, "WORKSPACE_NOT_FOUND")

    after = await client.get(f"{WS}/{workspace_b['id']}", headers=owner_b.headers)
    assert after.status_code == 200, after.text
    assert (after.json()["name"], after.json()["version"]) == (workspace_b["name"], 1)
    members = await client.get(f"{WS}/{workspace_b['id']}/members", headers=owner_b.headers)
    assert [(m["user_id"], m["role"]) for m in members.json()["items"]] == [(owner_b.id, "owner")]
    listed = await client.get(WS, headers=outsider.headers)
    assert workspace_b["id"] not in {w["id"] for w in listed.json()["items"]}


async def test_a_global_admin_is_no_member_of_other_peoples_workspaces(
    client, new_admin, new_user, new_workspace
):
    admin, owner = await new_admin(), await new_user()
    workspace = await new_workspace(owner)
    for method, path in (("GET", ""), ("GET", "/members"), ("DELETE", "")):
        response = await client.request(
            method, f"{WS}/{workspace['id']}{path}", headers=admin.headers
        )
        assert_problem(response, 404, "WORKSPACE_NOT_FOUND")
    assert (await client.get(f"{WS}/{workspace['id']}", headers=owner.headers)).status_code == 200
