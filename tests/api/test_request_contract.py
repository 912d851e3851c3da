"""What the spec promises about requests and 201s holds at run time: optional
bodies may be left out, required ones may not, and a 201 says where the new
resource is (`Location`)."""

from __future__ import annotations

from tests.support import make_page, make_workspace, patch_page, prop, signup


async def test_restore_without_a_body_restores_at_the_head(client):
    owner = await signup(client, "restorer")
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    patched = await patch_page(client, owner, page, prop(page, "x", 1), base_version=1, op_id="r-1")
    assert patched.status_code == 200
    # `requestBody.required: false`: no body, no Content-Type, as openapi-fetch sends it.
    restored = await client.post(
        f"/api/v1/pages/{page['id']}/revisions/1/restore", headers=owner.headers
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3 and restored.json()["duplicate"] is False
    now = await client.get(f"/api/v1/pages/{page['id']}", headers=owner.headers)
    assert now.json()["schema"] == page["schema"]
    # An explicit `null` is still a body, and not an object.
    null = await client.post(
        f"/api/v1/pages/{page['id']}/revisions/1/restore",
        headers={**owner.headers, "Content-Type": "application/json"},
        content=b"null",
    )
    assert null.status_code == 400 and null.json()["code"] == "VALIDATION_FAILED"


async def test_a_required_body_left_out_is_a_clear_400(client):
    owner = await signup(client, "nobody")
    r = await client.post("/api/v1/workspaces", headers=owner.headers)
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["code"] == "BAD_REQUEST" and "body" in problem["detail"].lower()


async def test_every_201_carries_the_location_of_what_it_created(client):
    owner = await signup(client, "located")
    member = await signup(client, "member")

    registered = await client.post(
        "/api/v1/auth/register",
        json={"email": f"loc-{owner.id[:8]}@example.com", "password": "long-enough-1",
              "display_name": "Loc"},
    )  # fmt: skip
    assert registered.status_code == 201
    assert registered.headers["location"] == f"/api/v1/users/{registered.json()['id']}"

    ws = await client.post("/api/v1/workspaces", headers=owner.headers, json={"name": "Located"})
    assert ws.status_code == 201
    location = ws.headers["location"]
    assert location == f"/api/v1/workspaces/{ws.json()['id']}"
    assert (await client.get(location, headers=owner.headers)).json() == ws.json()

    added = await client.post(
        f"{location}/members",
        headers=owner.headers,
        json={"user_id": member.id, "role": "editor"},
    )
    assert added.status_code == 201
    assert added.headers["location"] == f"{location}/members/{member.id}"

    page = await client.post(f"{location}/pages", headers=owner.headers, json={"title": "P"})
    assert page.status_code == 201
    assert page.headers["location"] == f"/api/v1/pages/{page.json()['id']}"
    got = await client.get(page.headers["location"], headers=owner.headers)
    assert got.status_code == 200 and got.headers["etag"] == page.headers["etag"]


async def test_a_new_workspace_needs_only_its_name(client):
    """The `{name}` request the TypeScript types accept is what the server accepts."""
    owner = await signup(client, "minimal")
    r = await client.post("/api/v1/workspaces", headers=owner.headers, json={"name": "W"})
    assert r.status_code == 201 and r.json()["description"] == ""


async def test_an_optional_body_of_another_operation_may_be_left_out(client):
    """The body validator follows each operation's `required` flag: OFREP's
    bulk evaluation declares its body optional, so leaving it out is not a
    body error (the missing targeting key is OFREP's own 400)."""
    owner = await signup(client, "ofrep")
    r = await client.post("/ofrep/v1/evaluate/flags", headers=owner.headers)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "TARGETING_KEY_MISSING"
