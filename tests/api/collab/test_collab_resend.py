"""Resending after a reconnect is idempotent; an opId reused for another edit is refused;
presence is per connection."""

import pytest

from tests.api.collab.peer import open_peer
from tests.support import add_member, make_page, make_workspace, prop, signup


@pytest.fixture(scope="module")
async def team(client):
    owner = await signup(client, "owner")
    editor = await signup(client, "editor")
    ws = await make_workspace(client, owner)
    await add_member(client, owner, ws, editor, "editor")
    return {"owner": owner, "editor": editor, "ws": ws}


async def op_rows(conn, page_id, op_id):
    return await conn.fetch(
        "SELECT version, actor FROM page_ops WHERE page_id = $1 AND op_id = $2", page_id, op_id
    )


async def test_a_resend_after_the_connection_dropped_is_acked_once_and_applied_once(
    client, live, team, conn
):
    page = await make_page(client, team["owner"], team["ws"])
    watcher = await open_peer(live, page["id"], team["editor"].access_token)
    await watcher.next("sync")
    tab = await open_peer(live, page["id"], team["owner"].access_token)
    await tab.next("sync")
    patch = prop(page, "title", "Hello")
    # Send, then drop the connection before reading the ack.
    await tab.send("op-patch", {"patches": patch, "baseVersion": 1, "opId": "tab-1"})
    await tab.ws.close()
    applied = await watcher.next("op-patch")
    assert applied["payload"]["opId"] == "tab-1" and applied["payload"]["version"] == 2

    again = await open_peer(live, page["id"], team["owner"].access_token)
    sync = await again.next("sync")
    assert sync["payload"]["version"] == 2
    # The resend rule: the same op, unchanged.
    await again.send("op-patch", {"patches": patch, "baseVersion": 1, "opId": "tab-1"})
    ack = await again.next()
    assert ack == {
        "type": "ack",
        "payload": {"opId": "tab-1", "version": 2, "duplicate": True},
    }
    # Rebased onto the sync (which already holds it): still the same op, still acked once.
    await again.send("op-patch", {"patches": patch, "baseVersion": 2, "opId": "tab-1"})
    assert (await again.next())["payload"] == {"opId": "tab-1", "version": 2, "duplicate": True}
    # A new op goes through as usual, and only it reaches the watcher.
    await again.send("op-patch", {"patches": prop(page, "n", 2), "baseVersion": 2, "opId": "tab-2"})
    assert (await again.next("ack"))["payload"] == {
        "opId": "tab-2",
        "version": 3,
        "duplicate": False,
    }
    assert (await watcher.next("op-patch"))["payload"]["opId"] == "tab-2"

    rows = await op_rows(conn, page["id"], "tab-1")
    assert [r["version"] for r in rows] == [2]
    stored = await client.get(f"/api/v1/pages/{page['id']}", headers=team["owner"].headers)
    assert stored.json()["version"] == 3
    assert all(f["payload"].get("opId") != "tab-1" for f in watcher.seen[1:] if f["type"] == "ack")
    await again.close()
    await watcher.close()
    assert again.violations == [] and watcher.violations == []


async def test_an_op_id_reused_for_another_patch_or_by_another_user_is_refused(
    client, live, team, conn
):
    page = await make_page(client, team["owner"], team["ws"])
    owner = await open_peer(live, page["id"], team["owner"].access_token)
    await owner.next("sync")
    patch = prop(page, "a", 1)
    await owner.send("op-patch", {"patches": patch, "baseVersion": 1, "opId": "k-1"})
    assert (await owner.next("ack"))["payload"]["duplicate"] is False

    # The same opId for a different edit: refused, never acked.
    await owner.send("op-patch", {"patches": prop(page, "b", 2), "baseVersion": 2, "opId": "k-1"})
    refused = await owner.next()
    assert refused["type"] == "error" and refused["payload"]["code"] == "OP_ID_REUSED"
    assert refused["payload"]["opId"] == "k-1"
    # …also when it is sent at a stale base (checked before the version).
    await owner.send("op-patch", {"patches": prop(page, "b", 2), "baseVersion": 1, "opId": "k-1"})
    assert (await owner.next())["payload"]["code"] == "OP_ID_REUSED"

    # Another collaborator pre-claiming or replaying someone's opId gets no ack.
    other = await open_peer(live, page["id"], team["editor"].access_token)
    await other.next("sync")
    await other.send("op-patch", {"patches": patch, "baseVersion": 1, "opId": "k-1"})
    assert (await other.next("error"))["payload"]["code"] == "OP_ID_REUSED"

    # Over HTTP the same rules: same patch by the author is a duplicate, anything else 409.
    url = f"/api/v1/pages/{page['id']}/patch"
    body = {"patches": patch, "baseVersion": 1, "opId": "k-1"}
    same = await client.post(url, headers=team["owner"].headers, json=body)
    assert same.status_code == 200 and same.json() == {
        "version": 2,
        "opId": "k-1",
        "duplicate": True,
    }
    theirs = await client.post(url, headers=team["editor"].headers, json=body)
    assert theirs.status_code == 409 and theirs.json()["code"] == "OP_ID_REUSED"

    assert [r["version"] for r in await op_rows(conn, page["id"], "k-1")] == [2]
    await owner.close()
    await other.close()
    assert owner.violations == [] and other.violations == []


async def test_presence_is_per_connection(client, live, team):
    page = await make_page(client, team["owner"], team["ws"])
    first = await open_peer(live, page["id"], team["owner"].access_token)
    mine = (await first.next("sync"))["payload"]
    assert [m["connectionId"] for m in mine["members"]] == [mine["connectionId"]]

    # A second tab of the same user is a second member, with its own connection id.
    second = await open_peer(live, page["id"], team["owner"].access_token)
    theirs = (await second.next("sync"))["payload"]
    assert theirs["connectionId"] != mine["connectionId"]
    assert sorted(m["connectionId"] for m in theirs["members"]) == sorted(
        [mine["connectionId"], theirs["connectionId"]]
    )
    joined = (await first.next("user-join"))["payload"]["user"]
    assert joined == {
        "id": team["owner"].id,
        "name": joined["name"],
        "connectionId": theirs["connectionId"],
    }

    await second.send("cursor-move", {"x": 3, "y": 4})
    cursor = (await first.next("cursor-move"))["payload"]
    assert cursor["user"]["connectionId"] == theirs["connectionId"]

    await second.close()
    left = (await first.next("user-leave"))["payload"]["user"]
    assert left["connectionId"] == theirs["connectionId"] and left["id"] == team["owner"].id
    await first.close()
    assert first.violations == [] and second.violations == []


async def test_an_op_applied_before_the_room_opened_is_still_recognised(client, live, team):
    """The room remembers the opIds it has seen applied; for an op based below
    that (applied before the room loaded) it asks the op log."""
    page = await make_page(client, team["owner"], team["ws"])
    patch = prop(page, "h", 1)
    http = await client.post(
        f"/api/v1/pages/{page['id']}/patch",
        headers=team["owner"].headers,
        json={"baseVersion": 1, "opId": "h-1", "patches": patch},
    )
    assert http.json() == {"version": 2, "opId": "h-1", "duplicate": False}
    tab = await open_peer(live, page["id"], team["owner"].access_token)
    assert (await tab.next("sync"))["payload"]["version"] == 2
    await tab.send("op-patch", {"patches": prop(page, "w", 1), "baseVersion": 2, "opId": "w-1"})
    assert (await tab.next("ack"))["payload"]["version"] == 3
    # After a new op of its own, a stale resend of the HTTP op is still a duplicate…
    await tab.send("op-patch", {"patches": patch, "baseVersion": 1, "opId": "h-1"})
    assert (await tab.next())["payload"] == {"opId": "h-1", "version": 2, "duplicate": True}
    # …and a stale op never applied is rebased onto the head like any other.
    await tab.send("op-patch", {"patches": prop(page, "s", 1), "baseVersion": 1, "opId": "s-1"})
    assert (await tab.next())["payload"] == {"opId": "s-1", "version": 4, "duplicate": False}
    await tab.close()
    assert tab.violations == []
