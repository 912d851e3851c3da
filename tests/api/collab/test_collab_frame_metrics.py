"""Frames sent are counted by their type (`lowcode_ws_messages_total`), the
type the encoder was given, on the page socket; nothing is labelled `other`."""

from prometheus_client.parser import text_string_to_metric_families

from tests.api.collab.peer import open_peer
from tests.support import make_page, make_workspace, signup


async def sent_by_type(client) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    return {
        sample.labels["type"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "lowcode_ws_messages"
        for sample in family.samples
        if sample.name == "lowcode_ws_messages_total" and sample.labels["direction"] == "out"
    }


async def test_frames_sent_are_counted_by_their_type(client, live):
    owner = await signup(client, "metrics-owner")
    page = await make_page(client, owner, await make_workspace(client, owner))
    before = await sent_by_type(client)
    peer = await open_peer(live, page["id"], owner.access_token)
    await peer.next("sync")
    await peer.send("ping", {})
    await peer.next("pong")
    await peer.send("sync-request", {"nope": 1})
    await peer.next("error")
    await peer.close()
    after = await sent_by_type(client)
    for kind in ("sync", "pong", "error"):
        assert after.get(kind, 0) >= before.get(kind, 0) + 1, kind
    assert "other" not in after
