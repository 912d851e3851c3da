"""/ws/events: per-user notifications reach the user's sockets on any node."""

import json

from websockets.asyncio.client import connect

from tests.api.collab.peer import Peer
from tests.processes import server
from tests.support import make_workspace, signup


async def events_peer(base_ws: str, token: str) -> Peer:
    return Peer(
        await connect(f"{base_ws}/ws/events", subprotocols=["lowcode.v1", f"bearer.{token}"])
    )


async def test_membership_changes_reach_the_member_on_another_node(client, settings, tmp_path):
    owner = await signup(client, "ev-owner")
    member = await signup(client, "ev-member")
    ws = await make_workspace(client, owner)
    other_node = server(settings, tmp_path, "events-node").start()
    try:
        peer = await events_peer(other_node.ws, member.access_token)
        await peer.send("ping", {})
        await peer.next("pong")  # subscribed and serving
        url = f"/api/v1/workspaces/{ws}/members"
        added = await client.post(
            url, headers=owner.headers, json={"user_id": member.id, "role": "viewer"}
        )
        assert added.status_code == 201
        frame = await peer.next("membership-changed")
        assert frame["payload"] == {"workspaceId": ws, "change": "added", "role": "viewer"}
        await client.patch(f"{url}/{member.id}", headers=owner.headers, json={"role": "editor"})
        changed = await peer.next("membership-changed")
        assert changed["payload"]["change"] == "role-changed"
        assert changed["payload"]["role"] == "editor"
        await client.delete(f"{url}/{member.id}", headers=owner.headers)
        removed = await peer.next("membership-changed")
        assert removed["payload"] == {"workspaceId": ws, "change": "removed", "role": None}
        await peer.ws.send(json.dumps({"type": "op-patch", "payload": {}}))
        assert (await peer.next("error"))["payload"]["code"] == "INVALID_MESSAGE"
        assert peer.violations == []
        await peer.close()
    finally:
        other_node.stop()


async def test_events_socket_rejects_a_bad_token(live):
    peer = await events_peer(live, "nope")
    assert await peer.closed() == 4401


async def test_collab_metrics_are_exposed(client, live):
    text = (await client.get("/metrics")).text
    for name in (
        "lowcode_ws_rooms",
        "lowcode_ws_clients",
        "lowcode_ws_messages_total",
        "lowcode_ws_ack_latency_seconds_bucket",
        "lowcode_ws_slow_clients_dropped_total",
    ):
        assert name in text
