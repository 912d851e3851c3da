"""Protocol-level liveness: a peer that stops answering pings is dropped."""

import asyncio
import base64
import os

from tests.api.collab.peer import open_peer, serve_app
from tests.support import add_member, make_page, make_workspace, signup


async def raw_websocket(url: str, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare upgrade with no WebSocket library behind it: it never answers a ping."""
    host, port = url.removeprefix("ws://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    assert b"101" in status, status
    return reader, writer


async def test_a_peer_that_misses_pongs_is_dropped_and_the_room_is_told(client, settings):
    owner = await signup(client, "liveness")
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    async with serve_app(settings, ws_ping_interval_s=0.2, ws_ping_timeout_s=0.4) as (app, url):
        watcher = await open_peer(url, page["id"], owner.access_token)
        await watcher.next("sync")
        other = await signup(client, "silent")
        await add_member(client, owner, ws, other, "viewer")
        _reader, writer = await raw_websocket(
            url, f"/ws/pages/{page['id']}?access_token={other.access_token}"
        )
        await watcher.next("user-join")
        # Never reply to pings; the server gives up after the timeout.
        left = await watcher.next("user-leave", timeout=5)
        assert left["payload"]["user"]["id"] == other.id
        writer.close()
        await watcher.close()
        assert app.metrics.ws_clients._value.get() == 0
