"""Bad frames, slow readers and full rooms never stop a room from serving the others."""

import json
import time
import uuid

import pytest

from tests.api.collab.peer import open_peer, serve_app
from tests.support import make_page, make_workspace, prop, signup


@pytest.fixture(scope="module")
async def owner(client):
    return await signup(client, "robust")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "INVALID_MESSAGE"),
        ("[]", "INVALID_MESSAGE"),
        ('{"type": 7}', "INVALID_MESSAGE"),
        ('{"type": "launch-missiles", "payload": {}}', "INVALID_MESSAGE"),
        ('{"type": "op-patch"}', "INVALID_MESSAGE"),
        ('{"type": "op-patch", "payload": {"patches": "x", "baseVersion": 1, "opId": "a"}}',
         "INVALID_MESSAGE"),
        ('{"type": "op-patch", "payload": {"patches": [{"op": "explode", "path": "/"}], '
         '"baseVersion": 1, "opId": "a"}}', "INVALID_MESSAGE"),
        ('{"type": "op-patch", "payload": {"patches": [], "baseVersion": "1", "opId": "a"}}',
         "INVALID_MESSAGE"),
        ('{"type": "cursor-move", "payload": {"x": "left", "y": 0}}', "INVALID_MESSAGE"),
        ('{"type": "ping", "payload": {"extra": 1}}', "INVALID_MESSAGE"),
        ('{"type": "op-patch", "payload": {"patches": [{"op": "add", "path": "/a", "value": 1}], '
         '"baseVersion": 1, "opId": "bad id with spaces"}}', "INVALID_MESSAGE"),
        # Deep, NaN, Infinity and NUL: valid to a lenient JSON parser, refused by ours.
        ('{"type": "op-patch", "payload": {"patches": [{"op": "add", "path": "/a", "value": '
         + "[" * 500 + "]" * 500 + '}], "baseVersion": 1, "opId": "deep"}}', "INVALID_MESSAGE"),
        ('{"type": "cursor-move", "payload": {"x": NaN, "y": 0}}', "INVALID_MESSAGE"),
        ('{"type": "cursor-move", "payload": {"x": Infinity, "y": 0}}', "INVALID_MESSAGE"),
        ('{"type": "op-patch", "payload": {"patches": [{"op": "add", "path": "/a", '
         '"value": "\\u0000"}], "baseVersion": 1, "opId": "nul"}}', "INVALID_MESSAGE"),
    ],
)  # fmt: skip
async def test_malformed_frames_get_invalid_message_and_the_room_keeps_serving(
    client, live, owner, raw, code
):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    fuzzer = await open_peer(live, page["id"], owner.access_token)
    other = await open_peer(live, page["id"], owner.access_token)
    await fuzzer.next("sync")
    await other.next("sync")
    await fuzzer.ws.send(raw)
    error = await fuzzer.next("error")
    assert error["payload"]["code"] == code
    await other.send("op-patch", {"patches": prop(page, "ok", 1), "baseVersion": 1, "opId": "ok"})
    assert (await other.next("ack"))["payload"]["version"] == 2
    assert (await fuzzer.next("op-patch"))["payload"]["version"] == 2
    assert not any(f["type"] == "cursor-move" for f in other.seen)  # nothing bad was relayed
    await fuzzer.close()
    await other.close()
    assert fuzzer.violations == [] and other.violations == []


async def test_binary_and_oversized_frames_are_refused_without_closing(client, live, owner, app):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    peer = await open_peer(live, page["id"], owner.access_token)
    await peer.next("sync")
    await peer.ws.send(b"\x00\x01binary")
    assert (await peer.next("error"))["payload"]["code"] == "INVALID_MESSAGE"
    huge = json.dumps(
        {"type": "ping", "payload": {}, "pad": "x" * app.settings.ws_max_message_bytes}
    )
    await peer.ws.send(huge)
    assert (await peer.next("error"))["payload"]["code"] == "TOO_LARGE"
    await peer.send("ping", {})
    await peer.next("pong")
    await peer.close()


async def test_a_patch_that_breaks_the_document_is_refused_with_its_code(client, live, owner):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    root = page["schema"]["rootId"]
    peer = await open_peer(live, page["id"], owner.access_token)
    await peer.next("sync")
    await peer.send("op-patch", {"patches": [{"op": "remove", "path": "/nope"}],
                                 "baseVersion": 1, "opId": "p1"})  # fmt: skip
    failed = await peer.next("error")
    assert failed["payload"]["code"] == "PATCH_FAILED" and failed["payload"]["opId"] == "p1"
    await peer.send("op-patch", {"patches": [
        {"op": "add", "path": f"/components/{root}/children/-", "value": "ghost"}],
        "baseVersion": 1, "opId": "p2"})  # fmt: skip
    assert (await peer.next("error"))["payload"]["code"] == "INVALID_DOCUMENT"
    await peer.close()


async def test_a_full_room_closes_newcomers_with_4429(client, settings, owner):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    async with serve_app(settings, ws_max_clients_per_room=2) as (_app, url):
        a = await open_peer(url, page["id"], owner.access_token)
        b = await open_peer(url, page["id"], owner.access_token)
        await a.next("sync")
        await b.next("sync")
        c = await open_peer(url, page["id"], owner.access_token)
        assert await c.closed() == 4429
        await a.close()
        await b.close()


async def test_op_rate_is_limited_per_client(client, settings, owner):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    async with serve_app(settings, ws_op_rate="3/second") as (_app, url):
        peer = await open_peer(url, page["id"], owner.access_token)
        await peer.next("sync")
        for i in range(5):
            await peer.send("op-patch", {"patches": prop(page, f"k{i}", i),
                                         "baseVersion": 1 + i, "opId": f"r{i}"})  # fmt: skip
        codes = [(await peer.next())["type"] for _ in range(5)]
        assert codes.count("ack") == 3
        assert [f["payload"]["code"] for f in peer.seen if f["type"] == "error"] == [
            "RATE_LIMITED", "RATE_LIMITED"
        ]  # fmt: skip
        await peer.close()


async def test_a_client_that_stops_reading_is_dropped_while_others_keep_up(client, settings, owner):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    async with serve_app(settings, ws_send_queue=8, ws_op_rate="1000/second") as (app, url):
        # No compression: the blobs below would shrink to nothing and never back up.
        slow = await open_peer(
            url, page["id"], owner.access_token, rcvbuf=32_768, max_queue=1, compression=None
        )
        slow._reader.cancel()  # stop reading: the socket fills, then our queue
        writer = await open_peer(url, page["id"], owner.access_token)
        watcher = await open_peer(url, page["id"], owner.access_token)
        await writer.next("sync")
        await watcher.next("sync")
        blob = "x" * 200_000
        version, worst = 1, 0.0
        for i in range(60):
            sent = time.perf_counter()
            await writer.send("op-patch", {"patches": prop(page, "blob", blob + str(i), "add"),
                                           "baseVersion": version, "opId": f"s{i}"})  # fmt: skip
            await writer.next("ack", timeout=10)
            await watcher.next("op-patch", timeout=10)
            worst = max(worst, time.perf_counter() - sent)
            version += 1
        assert worst < 2.0, f"a healthy client waited {worst:.2f}s"
        assert app.metrics.ws_dropped._value.get() >= 1
        dropped = [c for c in app.hub.rooms[uuid.UUID(page["id"])].clients.values()]
        assert len(dropped) == 2  # the slow one is out of the room; the others are in
        # The stalled peer never reads its close frame either: cut the socket.
        slow.ws.transport.abort()
        await writer.close()
        await watcher.close()
