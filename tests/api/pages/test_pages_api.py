"""Every page operation through the API, responses validated against the spec."""

import pytest

from tests.support import add_member, make_page, make_workspace, patch_page, prop, signup


@pytest.fixture(scope="module")
async def team(client):
    """Accounts are slow to make (argon2 by design); each test makes its own pages."""
    owner = await signup(client, "owner")
    editor = await signup(client, "editor")
    viewer = await signup(client, "viewer")
    outsider = await signup(client, "outsider")
    ws = await make_workspace(client, owner)
    await add_member(client, owner, ws, editor, "editor")
    await add_member(client, owner, ws, viewer, "viewer")
    return {"owner": owner, "editor": editor, "viewer": viewer, "outsider": outsider, "ws": ws}


async def test_create_gives_a_page_with_a_root_component_at_version_1(client, team):
    page = await make_page(client, team["editor"], team["ws"], "Sales")
    assert page["version"] == 1 and page["title"] == "Sales"
    root = page["schema"]["rootId"]
    assert page["schema"]["components"][root]["children"] == []


async def test_create_with_a_document_validates_it(client, team):
    bad = {"rootId": "r", "components": {"r": {"id": "r", "name": "Root", "children": ["x"]}}}
    response = await client.post(
        f"/api/v1/workspaces/{team['ws']}/pages",
        headers=team["editor"].headers,
        json={"title": "Bad", "schema": bad},
    )
    assert response.status_code == 422 and response.json()["code"] == "INVALID_DOCUMENT"


async def test_viewers_cannot_create_and_outsiders_do_not_see_the_workspace(client, team):
    url = f"/api/v1/workspaces/{team['ws']}/pages"
    viewer = await client.post(url, headers=team["viewer"].headers, json={"title": "x"})
    assert viewer.status_code == 403 and viewer.json()["code"] == "FORBIDDEN"
    outsider = await client.get(url, headers=team["outsider"].headers)
    assert outsider.status_code == 404 and outsider.json()["code"] == "WORKSPACE_NOT_FOUND"


async def test_get_returns_the_version_as_etag(client, team):
    page = await make_page(client, team["owner"], team["ws"])
    response = await client.get(f"/api/v1/pages/{page['id']}", headers=team["viewer"].headers)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json()["schema"] == page["schema"]


async def test_outsiders_get_page_not_found(client, team):
    page = await make_page(client, team["owner"], team["ws"])
    response = await client.get(f"/api/v1/pages/{page['id']}", headers=team["outsider"].headers)
    assert response.status_code == 404 and response.json()["code"] == "PAGE_NOT_FOUND"


async def test_list_searches_titles_sorts_and_paginates(client, team):
    ws = await make_workspace(client, team["owner"], "listing")
    await add_member(client, team["owner"], ws, team["viewer"], "viewer")
    for title in ("beta report", "alpha report", "gamma"):
        await make_page(client, team["owner"], ws, title)
    url = f"/api/v1/workspaces/{ws}/pages"
    response = await client.get(
        url, headers=team["viewer"].headers, params={"q": "REPORT", "sort": "title"}
    )
    body = response.json()
    assert response.status_code == 200 and body["total"] == 2
    assert [p["title"] for p in body["items"]] == ["alpha report", "beta report"]
    assert "schema" not in body["items"][0]
    paged = await client.get(
        url, headers=team["viewer"].headers, params={"page_size": 1, "page": 3}
    )
    assert paged.json()["total"] == 3 and len(paged.json()["items"]) == 1
    bad_sort = await client.get(url, headers=team["viewer"].headers, params={"sort": "id; drop"})
    assert bad_sort.status_code == 400


async def test_patch_applies_at_the_base_version_and_bumps_it(client, team):
    page = await make_page(client, team["editor"], team["ws"])
    response = await patch_page(
        client, team["editor"], page, prop(page, "color", "red"), base_version=1, op_id="a-1"
    )
    assert response.json() == {"version": 2, "opId": "a-1", "duplicate": False}
    after = await client.get(f"/api/v1/pages/{page['id']}", headers=team["viewer"].headers)
    root = page["schema"]["rootId"]
    assert after.json()["schema"]["components"][root]["props"] == {"color": "red"}
    assert after.headers["etag"] == '"2"'


async def test_a_stale_patch_of_the_same_location_is_a_version_conflict_with_the_current_version(
    client, team
):
    page = await make_page(client, team["editor"], team["ws"])
    editor = team["editor"]
    await patch_page(client, editor, page, prop(page, "a", 1), base_version=1, op_id="x1")
    stale = await patch_page(client, editor, page, prop(page, "a", 2), base_version=1, op_id="x2")
    assert stale.status_code == 409
    body = stale.json()
    assert body["code"] == "VERSION_CONFLICT" and body["currentVersion"] == 2
    assert body["conflictVersion"] == 2
    assert body["conflictPath"] == f"/components/{page['schema']['rootId']}/props/a"


def component(cid: str) -> dict:
    return {"id": cid, "name": "Box", "props": {}, "children": []}


async def test_a_stale_patch_of_another_component_is_rebased_and_an_overlapping_one_is_not(
    client, team
):
    page = await make_page(client, team["editor"], team["ws"])
    root = page["schema"]["rootId"]
    url = f"/api/v1/pages/{page['id']}/patch"
    h = team["editor"].headers

    async def patch(base: int, op_id: str, ops: list[dict]):
        return await client.post(
            url, headers=h, json={"baseVersion": base, "opId": op_id, "patches": ops}
        )

    two = [
        {"op": "add", "path": "/components/a", "value": component("a")},
        {"op": "add", "path": "/components/b", "value": component("b")},
        {"op": "add", "path": f"/components/{root}/children/-", "value": "a"},
        {"op": "add", "path": f"/components/{root}/children/-", "value": "b"},
    ]
    assert (await patch(1, "setup", two)).json()["version"] == 2
    on_a = await patch(2, "on-a", [{"op": "add", "path": "/components/a/props/x", "value": 1}])
    assert on_a.json()["version"] == 3

    # Based on version 2, on component b: rebased onto version 3.
    on_b = await patch(2, "on-b", [{"op": "add", "path": "/components/b/props/y", "value": 2}])
    assert on_b.status_code == 200, on_b.text
    assert on_b.json() == {"version": 4, "opId": "on-b", "duplicate": False}

    # Based on version 2, on component a, which version 3 changed: a conflict.
    again = await patch(
        2, "on-a2", [{"op": "replace", "path": "/components/a", "value": component("a")}]
    )
    assert again.status_code == 409
    assert again.json()["code"] == "VERSION_CONFLICT"
    assert again.json()["currentVersion"] == 4 and again.json()["conflictVersion"] == 3

    now = (await client.get(f"/api/v1/pages/{page['id']}", headers=h)).json()
    assert now["version"] == 4
    assert now["schema"]["components"]["a"]["props"] == {"x": 1}
    assert now["schema"]["components"]["b"]["props"] == {"y": 2}

    # A base the page never had is a conflict, not a rebase.
    future = await patch(9, "future", [{"op": "add", "path": "/components/b/props/z", "value": 3}])
    assert future.status_code == 409 and future.json()["currentVersion"] == 4


async def test_a_patch_that_does_not_apply_names_the_failing_op_and_changes_nothing(client, team):
    page = await make_page(client, team["editor"], team["ws"])
    patches = [*prop(page, "a", 1), {"op": "remove", "path": "/components/nope"}]
    response = await patch_page(client, team["editor"], page, patches, base_version=1, op_id="f-1")
    assert response.status_code == 422
    assert response.json()["code"] == "PATCH_FAILED" and response.json()["opIndex"] == 1
    after = await client.get(f"/api/v1/pages/{page['id']}", headers=team["editor"].headers)
    assert after.json()["version"] == 1 and after.json()["schema"] == page["schema"]


async def test_a_patch_that_breaks_the_document_is_invalid_document(client, team):
    page = await make_page(client, team["editor"], team["ws"])
    root = page["schema"]["rootId"]
    ghost_child = [{"op": "add", "path": f"/components/{root}/children/-", "value": "ghost"}]
    response = await patch_page(
        client, team["editor"], page, ghost_child, base_version=1, op_id="i-1"
    )
    assert response.status_code == 422 and response.json()["code"] == "INVALID_DOCUMENT"
    no_root = [{"op": "remove", "path": f"/components/{root}"}]
    removing_root = await patch_page(
        client, team["editor"], page, no_root, base_version=1, op_id="i-2"
    )
    assert removing_root.status_code == 422


async def test_a_document_over_the_size_limit_is_413(client, team, app):
    page = await make_page(client, team["editor"], team["ws"])
    big = "x" * (app.settings.page_max_bytes + 10)
    response = await patch_page(
        client, team["editor"], page, prop(page, "blob", big), base_version=1, op_id="big"
    )
    assert response.status_code == 413 and response.json()["code"] == "TOO_LARGE"


async def test_viewers_cannot_patch(client, team):
    page = await make_page(client, team["editor"], team["ws"])
    response = await patch_page(
        client, team["viewer"], page, prop(page, "a", 1), base_version=1, op_id="v-1"
    )
    assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"


async def test_an_op_id_reused_for_a_different_patch_is_refused(client, team):
    page = await make_page(client, team["editor"], team["ws"])
    editor = team["editor"]
    await patch_page(client, editor, page, prop(page, "a", 1), base_version=1, op_id="same")
    other = await patch_page(client, editor, page, prop(page, "a", 2), base_version=2, op_id="same")
    assert other.status_code == 409 and other.json()["code"] == "OP_ID_REUSED"


async def test_put_schema_needs_a_base_version_and_honours_if_match(client, team):
    page = await make_page(client, team["editor"], team["ws"])
    url, h = f"/api/v1/pages/{page['id']}/schema", team["editor"].headers
    doc = page["schema"]
    doc["components"][doc["rootId"]]["props"]["title"] = "New"
    missing = await client.put(url, headers=h, json={"schema": doc})
    assert missing.status_code == 428 and missing.json()["code"] == "PRECONDITION_REQUIRED"
    ok = await client.put(url, headers={**h, "If-Match": '"1"'}, json={"schema": doc})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    assert ok.json()["schema"] == doc
    stale = await client.put(url, headers=h, json={"schema": doc, "version": 1})
    assert stale.status_code == 409 and stale.json()["currentVersion"] == 2
    unchanged = await client.put(url, headers=h, json={"schema": doc, "version": 2})
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 2


async def test_rename_and_delete_follow_roles(client, team):
    page = await make_page(client, team["editor"], team["ws"])
    url = f"/api/v1/pages/{page['id']}"
    renamed = await client.patch(url, headers=team["editor"].headers, json={"title": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed"
    assert (await client.delete(url, headers=team["editor"].headers)).status_code == 403
    assert (await client.delete(url, headers=team["owner"].headers)).status_code == 204
    gone = await client.get(url, headers=team["owner"].headers)
    assert gone.status_code == 404 and gone.json()["code"] == "PAGE_NOT_FOUND"
    patch = await client.post(
        f"{url}/patch",
        headers=team["owner"].headers,
        json={"baseVersion": 1, "opId": "late", "patches": prop(page, "a", 1)},
    )
    assert patch.status_code == 404


async def test_revisions_list_get_and_restore_as_an_op(client, team):
    page = await make_page(client, team["editor"], team["ws"])
    pid, h = page["id"], team["editor"].headers
    await client.post(
        f"/api/v1/pages/{pid}/patch",
        headers=h,
        json={"baseVersion": 1, "opId": "r-1", "patches": prop(page, "a", 1)},
    )
    revisions = await client.get(f"/api/v1/pages/{pid}/revisions", headers=h)
    assert [r["version"] for r in revisions.json()["items"]] == [1]
    first = await client.get(f"/api/v1/pages/{pid}/revisions/1", headers=h)
    assert first.json()["schema"] == page["schema"] and first.json()["reason"] == "create"
    missing = await client.get(f"/api/v1/pages/{pid}/revisions/99", headers=h)
    assert missing.status_code == 404 and missing.json()["code"] == "REVISION_NOT_FOUND"

    stale = await client.post(
        f"/api/v1/pages/{pid}/revisions/1/restore", headers=h, json={"baseVersion": 1}
    )
    assert stale.status_code == 409
    restored = await client.post(f"/api/v1/pages/{pid}/revisions/1/restore", headers=h, json={})
    assert restored.status_code == 200 and restored.json()["version"] == 3
    now = await client.get(f"/api/v1/pages/{pid}", headers=h)
    assert now.json()["schema"] == page["schema"] and now.json()["version"] == 3
    # The restore is a revision of its own, so it can be undone by restoring 2.
    listed = await client.get(f"/api/v1/pages/{pid}/revisions", headers=h)
    assert [(r["version"], r["reason"]) for r in listed.json()["items"]] == [
        (3, "restore"),
        (1, "create"),
    ]
    viewer = await client.post(
        f"/api/v1/pages/{pid}/revisions/1/restore", headers=team["viewer"].headers, json={}
    )
    assert viewer.status_code == 403


async def test_a_page_written_many_times_keeps_one_cached_document(client, team, app):
    page = await make_page(client, team["owner"], team["ws"])
    for n in range(5):
        response = await client.post(
            f"/api/v1/pages/{page['id']}/patch",
            json={"baseVersion": 1 + n, "opId": f"cache-{n}", "patches": prop(page, "n", n)},
            headers=team["owner"].headers,
        )
        assert response.status_code == 200, response.text
    pattern = app.settings.redis_key("page", page["id"], "v", "*")
    keys = sorted(k.decode() for k in await app.res.redis.keys(pattern) if b":build" not in k)
    assert keys == [app.settings.redis_key("page", page["id"], "v", "6")]


def _local_hits(app) -> float:
    value = app.metrics.registry.get_sample_value(
        "lowcode_cache_requests_total", {"cache": "page-local", "result": "hit"}
    )
    return value or 0.0


async def test_a_version_read_again_comes_from_this_process(client, team, app):
    page = await make_page(client, team["editor"], team["ws"])
    patched = await patch_page(
        client, team["editor"], page, prop(page, "tone", "warm"), base_version=1, op_id="local-1"
    )
    assert patched.status_code == 200
    url = f"/api/v1/pages/{page['id']}"
    first = await client.get(url, headers=team["viewer"].headers)
    hits = _local_hits(app)
    second = await client.get(url, headers=team["owner"].headers)
    assert _local_hits(app) == hits + 1
    assert second.json() == first.json()
    root = page["schema"]["rootId"]
    assert second.json()["schema"]["components"][root]["props"] == {"tone": "warm"}
    # The next version is another entry: the held one is never served for it.
    await patch_page(
        client, team["editor"], page, prop(page, "tone", "cool"), base_version=2, op_id="local-2"
    )
    third = await client.get(url, headers=team["viewer"].headers)
    assert third.json()["schema"]["components"][root]["props"] == {"tone": "cool"}
    assert third.headers["etag"] == '"3"'
