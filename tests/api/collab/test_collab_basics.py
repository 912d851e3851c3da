"""Joining, editing, presence and the close codes of /ws/pages/{page_id}."""

import asyncio

import pytest
from websockets.asyncio.client import connect

from tests.api.collab.peer import open_peer
from tests.support import add_member, make_page, make_workspace, prop, signup


@pytest.fixture(scope="module")
async def team(client):
    owner = await signup(client, "owner")
    viewer = await signup(client, "viewer")
    outsider = await signup(client, "outsider")
    ws = await make_workspace(client, owner)
    await add_member(client, owner, ws, viewer, "viewer")
    return {"owner": owner, "viewer": viewer, "outsider": outsider, "ws": ws}


async def test_join_syncs_then_ops_are_acked_and_broadcast(client, live, team):
    page = await make_page(client, team["owner"], team["ws"])
    a = await open_peer(live, page["id"], team["owner"].access_token)
    sync = await a.next("sync")
    assert sync["payload"]["version"] == 1 and sync["payload"]["document"] == page["schema"]
    assert sync["payload"]["readOnly"] is False
    b = await open_peer(live, page["id"], team["viewer"].access_token)
    assert (await b.next("sync"))["payload"]["readOnly"] is True
    joined = await a.next("user-join")
    assert joined["payload"]["user"]["id"] == team["viewer"].id

    await a.send("op-patch", {"patches": prop(page, "x", 1), "baseVersion": 1, "opId": "o1"})
    assert (await a.next("ack"))["payload"] == {"opId": "o1", "version": 2, "duplicate": False}
    seen = await b.next("op-patch")
    assert seen["payload"]["version"] == 2 and seen["payload"]["actor"] == team["owner"].id

    stored = await client.get(f"/api/v1/pages/{page['id']}", headers=team["owner"].headers)
    assert stored.json()["version"] == 2

    await b.send("op-patch", {"patches": prop(page, "y", 1), "baseVersion": 2, "opId": "v1"})
    refused = await b.next("error")
    assert refused["payload"]["code"] == "FORBIDDEN"
    # Based on version 1, on another prop than version 2: rebased and acked.
    await a.send("op-patch", {"patches": prop(page, "z", 1), "baseVersion": 1, "opId": "o2"})
    assert (await a.next("ack"))["payload"] == {"opId": "o2", "version": 3, "duplicate": False}
    assert (await b.next("op-patch"))["payload"]["version"] == 3
    # Based on version 1, on the prop version 2 changed: a conflict saying so.
    await a.send("op-patch", {"patches": prop(page, "x", 2), "baseVersion": 1, "opId": "o3"})
    conflict = await a.next("error")
    assert conflict["payload"]["code"] == "VERSION_CONFLICT"
    assert conflict["payload"]["currentVersion"] == 3
    assert conflict["payload"]["conflictVersion"] == 2
    assert conflict["payload"]["conflictPath"] == prop(page, "x", 2)[0]["path"]

    await a.send("cursor-move", {"x": 1.5, "y": 2})
    cursor = await b.next("cursor-move")
    assert cursor["payload"]["user"]["id"] == team["owner"].id
    await b.send("ping", {})
    await b.next("pong")
    await b.close()
    assert (await a.next("user-leave"))["payload"]["user"]["id"] == team["viewer"].id
    await a.close()
    assert a.violations == [] and b.violations == []


async def test_http_patches_reach_the_room(client, live, team):
    page = await make_page(client, team["owner"], team["ws"])
    a = await open_peer(live, page["id"], team["owner"].access_token)
    await a.next("sync")
    r = await client.post(
        f"/api/v1/pages/{page['id']}/patch",
        headers=team["owner"].headers,
        json={"baseVersion": 1, "opId": "http-1", "patches": prop(page, "h", 1)},
    )
    assert r.status_code == 200
    seen = await a.next("op-patch")
    assert seen["payload"]["opId"] == "http-1" and seen["payload"]["version"] == 2
    await a.close()


async def test_bad_token_closes_4401_and_invisible_page_4404(client, live, team):
    page = await make_page(client, team["owner"], team["ws"])
    bad = await open_peer(live, page["id"], "not-a-token")
    assert await bad.closed() == 4401
    outsider = await open_peer(live, page["id"], team["outsider"].access_token)
    assert await outsider.closed() == 4404
    missing = await open_peer(
        live, "00000000-0000-4000-8000-000000000000", team["owner"].access_token
    )
    assert await missing.closed() == 4404


async def test_token_in_query_parameter_is_accepted(client, live, team):
    page = await make_page(client, team["owner"], team["ws"])
    ws = await connect(f"{live}/ws/pages/{page['id']}?access_token={team['owner'].access_token}")
    from tests.api.collab.peer import Peer

    peer = Peer(ws)
    assert (await peer.next("sync"))["payload"]["version"] == 1
    await peer.close()


async def test_resending_an_acked_op_is_acked_again_as_duplicate(client, live, team):
    page = await make_page(client, team["owner"], team["ws"])
    a = await open_peer(live, page["id"], team["owner"].access_token)
    await a.next("sync")
    op = {"patches": prop(page, "d", 1), "baseVersion": 1, "opId": "dup-1"}
    await a.send("op-patch", op)
    await a.next("ack")
    await a.close()
    again = await open_peer(live, page["id"], team["owner"].access_token)
    await again.next("sync")
    await again.send("op-patch", {**op, "baseVersion": 2})
    ack = await again.next("ack")
    assert ack["payload"] == {"opId": "dup-1", "version": 2, "duplicate": True}
    await again.close()
    _ = asyncio


async def test_a_read_never_opens_a_room_and_the_last_leave_closes_it_with_a_snapshot(
    client, app, live, team
):
    page = await make_page(client, team["owner"], team["ws"])
    page_uuid = __import__("uuid").UUID(page["id"])
    await client.get(f"/api/v1/pages/{page['id']}", headers=team["owner"].headers)
    assert page_uuid not in app.hub.rooms
    peer = await open_peer(live, page["id"], team["owner"].access_token)
    await peer.next("sync")
    assert page_uuid in app.hub.rooms
    await peer.send("op-patch", {"patches": prop(page, "c", 1), "baseVersion": 1, "opId": "c1"})
    await peer.next("ack")
    await peer.close()
    for _ in range(100):
        if page_uuid not in app.hub.rooms:
            break
        await asyncio.sleep(0.02)
    assert page_uuid not in app.hub.rooms
    revisions = await client.get(
        f"/api/v1/pages/{page['id']}/revisions", headers=team["owner"].headers
    )
    assert revisions.json()["items"][0] == {
        **revisions.json()["items"][0],
        "version": 2,
        "reason": "close",
    }
    again = await open_peer(live, page["id"], team["owner"].access_token)
    assert (await again.next("sync"))["payload"]["version"] == 2
    await again.close()


async def test_a_read_of_a_page_being_edited_here_comes_from_its_room(client, app, live, team):
    page = await make_page(client, team["owner"], team["ws"])
    peer = await open_peer(live, page["id"], team["owner"].access_token)
    await peer.next("sync")
    for v in range(1, 4):
        await peer.send(
            "op-patch", {"patches": prop(page, f"l{v}", v), "baseVersion": v, "opId": f"l{v}"}
        )
        await peer.next("ack")
    page_lookups = app.metrics.cache_requests.labels("page", "miss")._value.get()
    page_hits = app.metrics.cache_requests.labels("page", "hit")._value.get()
    read = await client.get(f"/api/v1/pages/{page['id']}", headers=team["owner"].headers)
    assert read.json()["version"] == 4
    assert read.json()["schema"]["components"][page["schema"]["rootId"]]["props"] == {
        "l1": 1,
        "l2": 2,
        "l3": 3,
    }
    assert app.metrics.cache_requests.labels("page", "miss")._value.get() == page_lookups
    assert app.metrics.cache_requests.labels("page", "hit")._value.get() == page_hits
    await peer.close()


async def test_the_hub_forgets_an_idle_room_and_the_gauges_come_back(client, app, live, team):
    """The hub owns a room's lifecycle: the room ends saying why, the hub
    forgets it; the clients and rooms gauges each have one owner, so they
    return to where they were."""
    metrics = app.hub.metrics
    for _ in range(300):  # rooms of earlier tests close once their clients are gone
        if not app.hub.rooms:
            break
        await asyncio.sleep(0.02)
    clients_before = metrics.ws_clients._value.get()
    rooms_before = metrics.ws_rooms._value.get()
    page = await make_page(client, team["owner"], team["ws"])
    page_uuid = __import__("uuid").UUID(page["id"])
    a = await open_peer(live, page["id"], team["owner"].access_token)
    b = await open_peer(live, page["id"], team["viewer"].access_token)
    await a.next("sync")
    await b.next("sync")
    assert metrics.ws_clients._value.get() == clients_before + 2
    assert metrics.ws_rooms._value.get() == rooms_before + 1
    room = app.hub.rooms[page_uuid]
    await a.close()
    await b.close()
    for _ in range(200):
        if page_uuid not in app.hub.rooms:
            break
        await asyncio.sleep(0.02)
    assert page_uuid not in app.hub.rooms
    assert room.task is not None and room.task.result().value == "idle"
    assert room.reserved == 0
    assert metrics.ws_clients._value.get() == clients_before
    assert metrics.ws_rooms._value.get() == rooms_before
