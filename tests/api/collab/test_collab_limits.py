"""Every frame and every client of a room has a bounded cost (security review
findings 4, 11, 12, 13, 22, 25, 30): floods, stalled readers, hostile frames
and failed loads never take the room, or its other clients, down."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import asyncpg
import pytest
from redis.asyncio import Redis

from lowcode.platform.websocket.limits import TokenBucket
from tests.api.collab.peer import PeerClosed, open_peer, serve_app
from tests.outage import TcpProxy
from tests.support import add_member, make_page, make_workspace, prop, signup


@pytest.fixture(scope="module")
async def owner(client):
    return await signup(client, "limits")


async def big_page(client, owner, size: int) -> dict:
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    document = page["schema"]
    document["components"][document["rootId"]]["props"]["blob"] = "x" * size
    put = await client.put(
        f"/api/v1/pages/{page['id']}/schema",
        headers={**owner.headers, "If-Match": '"1"'},
        json={"schema": document},
    )
    assert put.status_code == 200, put.text
    return dict(put.json()) | {"workspace": ws}


async def test_a_viewers_sync_flood_on_a_big_page_leaves_the_others_within_their_latency(
    client, live, owner
):
    page = await big_page(client, owner, 1_900_000)
    viewer = await signup(client, "flooder")
    await add_member(client, owner, page["workspace"], viewer, "viewer")
    # Ten sockets that never read, each asking for the whole page over and over.
    flooders = [
        await open_peer(
            live, page["id"], viewer.access_token, rcvbuf=16_384, compression=None, max_size=2**24
        )
        for _ in range(10)
    ]
    for f in flooders:
        f._reader.cancel()
    editor = await open_peer(live, page["id"], owner.access_token, max_size=2**24)
    watcher = await open_peer(live, page["id"], owner.access_token, max_size=2**24)
    await editor.next("sync", timeout=15)
    await watcher.next("sync", timeout=15)

    async def flood() -> None:
        for _ in range(20):
            for f in flooders:
                await f.ws.send('{"type":"sync-request"}')
            await asyncio.sleep(0.05)

    flooding = asyncio.create_task(flood())
    worst, version = 0.0, page["version"]
    for i in range(15):
        sent = time.perf_counter()
        await editor.send(
            "op-patch", {"patches": prop(page, "n", i), "baseVersion": version, "opId": f"f{i}"}
        )
        assert (await editor.next("ack", timeout=10))["payload"]["version"] == version + 1
        await watcher.next("op-patch", timeout=10)
        worst = max(worst, time.perf_counter() - sent)
        version += 1
        await asyncio.sleep(0.05)
    await flooding
    assert worst < 0.5, f"an editor waited {worst:.2f}s for ack and broadcast"
    for f in flooders:
        f.ws.transport.abort()
    await editor.close()
    await watcher.close()


async def test_an_op_nesting_the_document_too_deep_is_refused_and_the_room_lives(
    client, live, owner
):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    peer = await open_peer(live, page["id"], owner.access_token)
    await peer.next("sync")
    value: object = 1
    for _ in range(50):
        value = {"d": value}
    await peer.send("op-patch", {"patches": prop(page, "a", value), "baseVersion": 1, "opId": "a"})
    assert (await peer.next("ack"))["payload"]["version"] == 2
    root = page["schema"]["rootId"]
    deeper = [{"op": "add", "path": f"/components/{root}/props/a" + "/d" * 49 + "/e",
               "value": value}]  # fmt: skip
    await peer.send("op-patch", {"patches": deeper, "baseVersion": 2, "opId": "b"})
    error = await peer.next("error")
    assert error["payload"]["code"] == "INVALID_DOCUMENT" and error["payload"]["opId"] == "b"
    await peer.send("op-patch", {"patches": prop(page, "ok", 1), "baseVersion": 2, "opId": "c"})
    assert (await peer.next("ack"))["payload"]["version"] == 3
    await peer.close()


async def test_a_room_whose_load_fails_closes_every_queued_joiner(
    client, live, owner, database_url, settings
):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    for i in range(2):
        patched = await client.post(
            f"/api/v1/pages/{page['id']}/patch",
            headers=owner.headers,
            json={"baseVersion": 1 + i, "opId": f"gap-{i}", "patches": prop(page, "k", i)},
        )
        assert patched.status_code == 200, patched.text
    # A hole in the op log (as a compaction race would leave) and no cached
    # copy: the room cannot rebuild the document.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "DELETE FROM page_ops WHERE page_id = $1 AND version = 2", uuid.UUID(page["id"])
        )
    finally:
        await conn.close()
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.delete(settings.redis_key("page", page["id"], "v", "3"))
    finally:
        await redis.aclose()
    joiners = await asyncio.gather(
        *(open_peer(live, page["id"], owner.access_token) for _ in range(3))
    )
    for peer in joiners:
        with pytest.raises(PeerClosed) as closed:
            await peer.next("sync", timeout=10)
        assert closed.value.args[0] == 1013


async def test_ops_beyond_the_in_flight_bound_are_rate_limited_while_the_room_is_stuck(
    client, settings, owner
):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    proxy = await TcpProxy.for_url(settings.database_url, 5432).start()
    try:
        async with serve_app(
            settings,
            database_url=proxy.url(settings.database_url),
            ws_max_ops_in_flight=2,
            ws_op_rate="1000/second",
            db_command_timeout_s=3.0,
        ) as (_app, url):
            peer = await open_peer(url, page["id"], owner.access_token)
            await peer.next("sync")
            proxy.hang()  # the room's append now waits on a silent database
            for i in range(6):
                await peer.send(
                    "op-patch", {"patches": prop(page, "k", i), "baseVersion": 1, "opId": f"q{i}"}
                )
            limited = []
            async with asyncio.timeout(2):
                while len(limited) < 3:
                    frame = await peer.next("error")
                    limited.append(frame["payload"]["code"])
            assert limited == ["RATE_LIMITED"] * 3
            proxy.restore()
            await peer.close()
    finally:
        await proxy.stop()


async def test_a_stalled_reader_is_dropped_by_bytes_before_frames(client, settings, owner):
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    async with serve_app(
        settings, ws_send_queue=10_000, ws_send_queue_bytes=512 * 1024, ws_op_rate="1000/second"
    ) as (app, url):
        slow = await open_peer(
            url, page["id"], owner.access_token, rcvbuf=16_384, max_queue=1, compression=None
        )
        slow._reader.cancel()
        writer = await open_peer(url, page["id"], owner.access_token)
        await writer.next("sync")
        # 12 MB through a socket nobody reads: far fewer frames than the frame
        # bound, far more bytes than the byte bound.
        for i in range(60):
            await writer.send(
                "op-patch",
                {"patches": prop(page, "b", "x" * 200_000 + str(i)), "baseVersion": 1 + i,
                 "opId": f"b{i}"},
            )  # fmt: skip
            await writer.next("ack", timeout=10)
        assert app.metrics.ws_dropped._value.get() >= 1
        room = app.hub.rooms[uuid.UUID(page["id"])]
        assert len(room.clients) == 1
        slow.ws.transport.abort()
        await writer.close()


async def test_rooms_per_process_and_sockets_and_handshakes_per_user_are_capped(
    client, settings, owner
):
    ws = await make_workspace(client, owner)
    first = await make_page(client, owner, ws)
    second = await make_page(client, owner, ws)
    async with serve_app(settings, ws_max_rooms=1, ws_max_sockets_per_user=2) as (_app, url):
        a = await open_peer(url, first["id"], owner.access_token)
        await a.next("sync")
        b = await open_peer(url, second["id"], owner.access_token)
        with pytest.raises(PeerClosed) as closed:
            await b.next("sync")
        assert closed.value.args[0] == 1013  # too many rooms here: retry
        c = await open_peer(url, first["id"], owner.access_token)
        await c.next("sync")
        d = await open_peer(url, first["id"], owner.access_token)
        with pytest.raises(PeerClosed) as closed:
            await d.next("sync")
        assert closed.value.args[0] == 4429  # a third socket of one user
        await a.close()
        await c.close()
    async with serve_app(settings, ws_join_rate="2/minute") as (_app, url):
        # One after the other: the server admits a socket after its handshake,
        # so sockets opened together may be admitted in any order.
        peers = []
        for _ in range(2):
            peers.append(await open_peer(url, first["id"], owner.access_token))
            await peers[-1].next("sync")
        third = await open_peer(url, first["id"], owner.access_token)
        with pytest.raises(PeerClosed) as closed:
            await third.next("sync")
        assert closed.value.args[0] == 4429
        for p in peers:
            await p.close()


def test_rate_gates_are_token_buckets_that_start_no_threads():
    before = threading.active_count()
    bucket = TokenBucket.parse("5/second")
    assert [bucket.allow() for _ in range(7)] == [True] * 5 + [False] * 2
    time.sleep(0.25)
    assert bucket.allow()  # refilled at 5 per second
    assert threading.active_count() == before
