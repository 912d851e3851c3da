"""Workspaces (tenants) and their members (/api/v1/workspaces/*)."""

from __future__ import annotations

import uuid

import pytest

from tests.support import add_member, assert_problem

WS = "/api/v1/workspaces"


def members_url(workspace: dict) -> str:
    return f"{WS}/{workspace['id']}/members"


async def member_roles(client, workspace: dict, viewer) -> dict[str, str]:
    response = await client.get(members_url(workspace), headers=viewer.headers)
    assert response.status_code == 200, response.text
    return {m["user_id"]: m["role"] for m in response.json()["items"]}


# --- workspaces -------------------------------------------------------------


async def test_creating_a_workspace_makes_me_its_owner(client, new_user):
    user = await new_user()
    response = await client.post(
        WS, json={"name": "  Sales analytics  ", "description": "Q3"}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    workspace = response.json()
    assert uuid.UUID(workspace["id"])
    assert workspace["name"] == "Sales analytics" and workspace["description"] == "Q3"
    assert workspace["version"] == 1
    assert workspace["created_by"] == user.id and workspace["my_role"] == "owner"
    assert await member_roles(client, workspace, user) == {user.id: "owner"}


async def test_a_workspace_description_defaults_to_empty(client, new_user, new_workspace):
    user = await new_user()
    workspace = await new_workspace(user)
    assert workspace["description"] == ""


@pytest.mark.parametrize("body", [{}, {"name": "   "}, {"name": "x" * 101}, {"name": "ok", "x": 1}])
async def test_creating_a_workspace_without_a_proper_name_is_a_validation_error(
    client, new_user, body
):
    user = await new_user()
    response = await client.post(WS, json=body, headers=user.headers)
    assert_problem(response, 400, "VALIDATION_FAILED")
    assert (await client.get(WS, headers=user.headers)).json()["total"] == 0


async def test_i_list_only_the_workspaces_i_belong_to_with_my_role(client, new_user, new_workspace):
    me, other = await new_user(), await new_user()
    mine = [await new_workspace(me), await new_workspace(me)]
    shared = await new_workspace(other)
    await new_workspace(other)  # not shared with me
    await add_member(client, other, shared["id"], me, "viewer")

    response = await client.get(WS, headers=me.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["page"], body["page_size"], body["total"]) == (1, 20, 3)
    roles = {w["id"]: w["my_role"] for w in body["items"]}
    assert roles == {mine[0]["id"]: "owner", mine[1]["id"]: "owner", shared["id"]: "viewer"}


async def test_my_workspaces_are_paginated(client, new_user, new_workspace):
    user = await new_user()
    created = [(await new_workspace(user))["id"] for _ in range(3)]
    first = (await client.get(WS, params={"page_size": 2}, headers=user.headers)).json()
    second = (await client.get(WS, params={"page": 2, "page_size": 2}, headers=user.headers)).json()
    assert first["total"] == second["total"] == 3
    assert [w["id"] for w in first["items"] + second["items"]] == created


async def test_members_can_read_a_workspace_with_their_own_role(client, new_user, new_workspace):
    owner, viewer = await new_user(), await new_user()
    workspace = await new_workspace(owner, description="shared")
    await add_member(client, owner, workspace["id"], viewer, "viewer")

    as_owner = await client.get(f"{WS}/{workspace['id']}", headers=owner.headers)
    as_viewer = await client.get(f"{WS}/{workspace['id']}", headers=viewer.headers)
    assert as_owner.status_code == as_viewer.status_code == 200
    assert as_owner.json()["my_role"] == "owner" and as_viewer.json()["my_role"] == "viewer"
    assert as_viewer.json()["description"] == "shared"


async def test_an_unknown_workspace_is_workspace_not_found(client, new_user):
    user = await new_user()
    response = await client.get(f"{WS}/{uuid.uuid4()}", headers=user.headers)
    assert_problem(response, 404, "WORKSPACE_NOT_FOUND")


async def test_owners_rename_a_workspace_and_each_change_bumps_the_version_by_one(
    client, new_user, new_workspace
):
    owner = await new_user()
    workspace = await new_workspace(owner)
    url = f"{WS}/{workspace['id']}"

    renamed = await client.patch(url, json={"name": "Renamed", "version": 1}, headers=owner.headers)
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["name"], body["version"], body["my_role"]) == ("Renamed", 2, "owner")
    assert body["description"] == workspace["description"]

    described = await client.patch(url, json={"description": "new"}, headers=owner.headers)
    assert (described.json()["name"], described.json()["description"]) == ("Renamed", "new")
    assert described.json()["version"] == 3
    assert (await client.get(url, headers=owner.headers)).json()["version"] == 3


async def test_a_stale_version_is_a_version_conflict_with_the_current_version(
    client, new_user, new_workspace
):
    owner = await new_user()
    workspace = await new_workspace(owner)
    url = f"{WS}/{workspace['id']}"
    assert (
        await client.patch(url, json={"name": "A", "version": 1}, headers=owner.headers)
    ).json()["version"] == 2

    stale = await client.patch(url, json={"name": "B", "version": 1}, headers=owner.headers)
    body = assert_problem(stale, 409, "VERSION_CONFLICT")
    assert body["currentVersion"] == 2
    current = (await client.get(url, headers=owner.headers)).json()
    assert (current["name"], current["version"]) == ("A", 2)


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_only_owners_may_update_a_workspace(client, new_user, new_workspace, role):
    owner, member = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], member, role)

    response = await client.patch(
        f"{WS}/{workspace['id']}", json={"name": "Hijacked"}, headers=member.headers
    )
    assert_problem(response, 403, "FORBIDDEN")
    current = (await client.get(f"{WS}/{workspace['id']}", headers=owner.headers)).json()
    assert (current["name"], current["version"]) == (workspace["name"], 1)


async def test_owners_delete_a_workspace(client, new_user, new_workspace):
    owner, member = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], member, "editor")

    response = await client.delete(f"{WS}/{workspace['id']}", headers=owner.headers)
    assert response.status_code == 204, response.text
    for user in (owner, member):
        gone = await client.get(f"{WS}/{workspace['id']}", headers=user.headers)
        assert_problem(gone, 404, "WORKSPACE_NOT_FOUND")
        assert (await client.get(WS, headers=user.headers)).json()["total"] == 0


async def test_an_editor_cannot_delete_a_workspace(client, new_user, new_workspace):
    owner, editor = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], editor, "editor")
    response = await client.delete(f"{WS}/{workspace['id']}", headers=editor.headers)
    assert_problem(response, 403, "FORBIDDEN")
    assert (await client.get(f"{WS}/{workspace['id']}", headers=owner.headers)).status_code == 200


# --- members ----------------------------------------------------------------


async def test_owners_add_members_by_email_in_any_case_and_by_user_id(
    client, new_user, new_workspace
):
    owner, by_email, by_id = await new_user(), await new_user(), await new_user()
    workspace = await new_workspace(owner)

    added = await client.post(
        members_url(workspace),
        json={"email": by_email.email.upper(), "role": "editor"},
        headers=owner.headers,
    )
    # By email: 202 and what was asked, nothing about the account.
    assert added.status_code == 202, added.text
    assert added.json() == {"email": by_email.email.upper(), "role": "editor"}

    added = await client.post(
        members_url(workspace), json={"user_id": by_id.id, "role": "viewer"}, headers=owner.headers
    )
    assert added.status_code == 201, added.text
    assert added.json()["user_id"] == by_id.id

    response = await client.get(members_url(workspace), headers=by_id.headers)
    body = response.json()
    assert set(body) == {"items", "page", "page_size", "total"} and body["total"] == 3
    assert [(m["user_id"], m["role"]) for m in body["items"]] == [
        (owner.id, "owner"),
        (by_email.id, "editor"),
        (by_id.id, "viewer"),
    ]
    ws = (await client.get(f"{WS}/{workspace['id']}", headers=by_email.headers)).json()
    assert ws["my_role"] == "editor"


async def test_members_are_paginated(client, new_user, new_workspace):
    owner, a, b = await new_user(), await new_user(), await new_user()
    workspace = await new_workspace(owner)
    for user in (a, b):
        await add_member(client, owner, workspace["id"], user, "viewer")
    page = await client.get(
        members_url(workspace), params={"page": 2, "page_size": 2}, headers=owner.headers
    )
    body = page.json()
    assert (body["page"], body["page_size"], body["total"]) == (2, 2, 3)
    assert [m["user_id"] for m in body["items"]] == [b.id]


async def test_adding_an_existing_member_again_is_already_member(client, new_user, new_workspace):
    owner, member = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], member, "viewer")

    again = await client.post(
        members_url(workspace), json={"user_id": member.id, "role": "owner"}, headers=owner.headers
    )
    assert_problem(again, 409, "ALREADY_MEMBER")
    assert (await member_roles(client, workspace, owner))[member.id] == "viewer"


async def test_adding_an_unknown_user_id_is_user_not_found(client, new_user, new_workspace):
    owner = await new_user()
    workspace = await new_workspace(owner)
    body = {"user_id": str(uuid.uuid4()), "role": "viewer"}
    response = await client.post(members_url(workspace), json=body, headers=owner.headers)
    assert_problem(response, 404, "USER_NOT_FOUND")
    assert await member_roles(client, workspace, owner) == {owner.id: "owner"}


async def test_adding_by_email_answers_the_same_whether_or_not_the_account_exists(
    client, new_user, new_workspace
):
    owner, known, member = await new_user(), await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], member, "viewer")
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    answers = []
    for email in (known.email, unknown, member.email):
        response = await client.post(
            members_url(workspace), json={"email": email, "role": "editor"}, headers=owner.headers
        )
        assert response.status_code == 202, response.text
        answers.append((response.json(), sorted(response.headers.keys())))
    assert [a[0] for a in answers] == [
        {"email": e, "role": "editor"} for e in (known.email, unknown, member.email)
    ]
    assert answers[0][1] == answers[1][1] == answers[2][1]
    roles = await member_roles(client, workspace, owner)
    # The account found was added; an existing member keeps their role.
    assert roles == {owner.id: "owner", known.id: "editor", member.id: "viewer"}


async def test_adding_members_is_rate_limited_per_owner(settings, new_user, new_workspace):
    from tests.support import running_app

    owner = await new_user()
    workspace = await new_workspace(owner)
    async with running_app(settings, rate_limit_add_member="2/minute") as (_, limited):
        for n in range(2):
            body = {"email": f"probe-{n}-{uuid.uuid4().hex[:6]}@example.com", "role": "viewer"}
            ok = await limited.post(members_url(workspace), json=body, headers=owner.headers)
            assert ok.status_code == 202
        body = {"email": f"probe-x-{uuid.uuid4().hex[:6]}@example.com", "role": "viewer"}
        refused = await limited.post(members_url(workspace), json=body, headers=owner.headers)
        assert_problem(refused, 429, "RATE_LIMITED")


@pytest.mark.parametrize("both", [True, False], ids=["both", "neither"])
async def test_a_member_must_be_named_by_exactly_one_of_user_id_and_email(
    client, new_user, new_workspace, both
):
    owner, other = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    body = {"role": "viewer"}
    if both:
        body |= {"user_id": other.id, "email": other.email}
    response = await client.post(members_url(workspace), json=body, headers=owner.headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_FAILED"
    assert await member_roles(client, workspace, owner) == {owner.id: "owner"}


@pytest.mark.parametrize("role", ["editor", "viewer"])
async def test_only_owners_add_members(client, new_user, new_workspace, role):
    owner, member, outsider = await new_user(), await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], member, role)
    response = await client.post(
        members_url(workspace),
        json={"user_id": outsider.id, "role": "viewer"},
        headers=member.headers,
    )
    assert_problem(response, 403, "FORBIDDEN")
    assert outsider.id not in await member_roles(client, workspace, owner)


async def test_owners_change_a_members_role(client, new_user, new_workspace):
    owner, member = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], member, "viewer")

    response = await client.patch(
        f"{members_url(workspace)}/{member.id}", json={"role": "editor"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["user_id"], response.json()["role"]) == (member.id, "editor")
    ws = (await client.get(f"{WS}/{workspace['id']}", headers=member.headers)).json()
    assert ws["my_role"] == "editor"


async def test_an_editor_cannot_change_roles(client, new_user, new_workspace):
    owner, editor = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], editor, "editor")
    response = await client.patch(
        f"{members_url(workspace)}/{editor.id}", json={"role": "owner"}, headers=editor.headers
    )
    assert_problem(response, 403, "FORBIDDEN")
    assert (await member_roles(client, workspace, owner))[editor.id] == "editor"


async def test_changing_the_role_of_a_non_member_is_member_not_found(
    client, new_user, new_workspace
):
    owner, outsider = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    response = await client.patch(
        f"{members_url(workspace)}/{outsider.id}", json={"role": "editor"}, headers=owner.headers
    )
    assert_problem(response, 404, "MEMBER_NOT_FOUND")


async def test_the_last_owner_cannot_be_demoted_until_there_is_another_owner(
    client, new_user, new_workspace
):
    owner, co_owner = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    me = f"{members_url(workspace)}/{owner.id}"

    refused = await client.patch(me, json={"role": "editor"}, headers=owner.headers)
    assert_problem(refused, 409, "LAST_OWNER")
    assert (await member_roles(client, workspace, owner))[owner.id] == "owner"

    await add_member(client, owner, workspace["id"], co_owner, "owner")
    demoted = await client.patch(me, json={"role": "editor"}, headers=owner.headers)
    assert demoted.status_code == 200, demoted.text
    assert await member_roles(client, workspace, co_owner) == {
        owner.id: "editor",
        co_owner.id: "owner",
    }


async def test_owners_remove_a_member_who_then_loses_access(client, new_user, new_workspace):
    owner, editor = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], editor, "editor")

    response = await client.delete(f"{members_url(workspace)}/{editor.id}", headers=owner.headers)
    assert response.status_code == 204, response.text
    gone = await client.get(f"{WS}/{workspace['id']}", headers=editor.headers)
    assert_problem(gone, 404, "WORKSPACE_NOT_FOUND")
    assert await member_roles(client, workspace, owner) == {owner.id: "owner"}


async def test_removing_a_non_member_is_member_not_found(client, new_user, new_workspace):
    owner, outsider = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    response = await client.delete(f"{members_url(workspace)}/{outsider.id}", headers=owner.headers)
    assert_problem(response, 404, "MEMBER_NOT_FOUND")


async def test_the_last_owner_cannot_leave(client, new_user, new_workspace):
    owner = await new_user()
    workspace = await new_workspace(owner)
    response = await client.delete(f"{members_url(workspace)}/{owner.id}", headers=owner.headers)
    assert_problem(response, 409, "LAST_OWNER")
    assert (await client.get(f"{WS}/{workspace['id']}", headers=owner.headers)).status_code == 200


async def test_an_owner_can_leave_when_another_owner_remains(client, new_user, new_workspace):
    owner, co_owner = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], co_owner, "owner")
    response = await client.delete(f"{members_url(workspace)}/{owner.id}", headers=owner.headers)
    assert response.status_code == 204, response.text
    assert await member_roles(client, workspace, co_owner) == {co_owner.id: "owner"}


async def test_a_viewer_can_leave_a_workspace(client, new_user, new_workspace):
    owner, viewer = await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], viewer, "viewer")

    response = await client.delete(f"{members_url(workspace)}/{viewer.id}", headers=viewer.headers)
    assert response.status_code == 204, response.text
    assert (await client.get(WS, headers=viewer.headers)).json()["total"] == 0
    assert await member_roles(client, workspace, owner) == {owner.id: "owner"}


async def test_a_viewer_cannot_remove_other_members(client, new_user, new_workspace):
    owner, viewer, editor = await new_user(), await new_user(), await new_user()
    workspace = await new_workspace(owner)
    await add_member(client, owner, workspace["id"], viewer, "viewer")
    await add_member(client, owner, workspace["id"], editor, "editor")

    for target in (editor, owner):
        response = await client.delete(
            f"{members_url(workspace)}/{target.id}", headers=viewer.headers
        )
        assert_problem(response, 403, "FORBIDDEN")
    assert set(await member_roles(client, workspace, owner)) == {owner.id, viewer.id, editor.id}
