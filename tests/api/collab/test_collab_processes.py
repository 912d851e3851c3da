"""Crashes, restarts and two nodes: acknowledged ops survive, everyone converges."""

import asyncio
import contextlib
import signal

import asyncpg
from websockets.exceptions import ConnectionClosed

from tests.api.collab.editors import Editor, join
from tests.api.collab.peer import PeerClosed, open_peer
from tests.processes import server
from tests.support import make_page, make_workspace, signup


async def stored_ops(database_url, page_id):
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT version, op_id FROM page_ops WHERE page_id = $1 ORDER BY version", page_id
        )
        return {r["op_id"]: r["version"] for r in rows}
    finally:
        await conn.close()


async def edit_until_cut(editor: Editor, seconds: float) -> None:
    with contextlib.suppress(PeerClosed, ConnectionClosed, TimeoutError):
        await editor.edit(seconds)


async def test_sigkill_while_editing_loses_no_acknowledged_op(
    client, settings, database_url, tmp_path
):
    owner = await signup(client, "crash")
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    node = server(settings, tmp_path, "crash").start()
    try:
        editors = [await join(node.ws, page, owner, seed=i) for i in range(6)]
        tasks = [asyncio.create_task(edit_until_cut(e, 30)) for e in editors]
        await asyncio.sleep(1.5)
        node.signal(signal.SIGKILL)
        node.wait()
        await asyncio.gather(*tasks)
    finally:
        node.stop()
    acked = {op_id: v for e in editors for op_id, v in e.acked}
    assert len(acked) > 10, "editing should have been under way"
    stored = await stored_ops(database_url, page["id"])
    assert {k: stored.get(k) for k in acked} == acked
    restarted = server(settings, tmp_path, "restarted").start()
    try:
        peer = await open_peer(restarted.ws, page["id"], owner.access_token)
        sync = await peer.next("sync")
        assert sync["payload"]["version"] == max(stored.values())
        await peer.close()
    finally:
        restarted.stop()


async def test_two_nodes_serving_one_page_converge(client, settings, database_url, tmp_path):
    owner = await signup(client, "twonodes")
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    a = server(settings, tmp_path, "node-a").start()
    b = server(settings, tmp_path, "node-b").start()
    try:
        # Alternate nodes: half the editors on each.
        editors = [await join((a if i % 2 else b).ws, page, owner, seed=100 + i) for i in range(8)]
        await asyncio.gather(*(e.edit(seconds=3) for e in editors))
        stored = (await client.get(f"/api/v1/pages/{page['id']}", headers=owner.headers)).json()
        ops = await stored_ops(database_url, page["id"])
        assert sorted(ops.values()) == list(range(2, stored["version"] + 1))
        for editor in editors:
            await editor.settle(stored["version"])
            assert editor.document == stored["schema"]
            assert editor.peer.violations == []
        assert sum(len(e.acked) for e in editors) == len(ops)
        for editor in editors:
            await editor.close()
    finally:
        a.stop()
        b.stop()


async def test_sigterm_closes_sockets_with_1012_and_keeps_every_acked_op(
    client, settings, database_url, tmp_path
):
    owner = await signup(client, "drain")
    ws = await make_workspace(client, owner)
    page = await make_page(client, owner, ws)
    node = server(settings, tmp_path, "drain").start()
    try:
        editors = [await join(node.ws, page, owner, seed=200 + i) for i in range(4)]
        tasks = [asyncio.create_task(edit_until_cut(e, 30)) for e in editors]
        await asyncio.sleep(1.0)
        node.signal(signal.SIGTERM)
        await asyncio.gather(*tasks)
        assert node.wait(timeout_s=30) == 0
    finally:
        node.stop()
    assert {e.peer.close_code for e in editors} == {1012}
    acked = {op_id: v for e in editors for op_id, v in e.acked}
    stored = await stored_ops(database_url, page["id"])
    assert acked and {k: stored.get(k) for k in acked} == acked
    revisions = await client.get(f"/api/v1/pages/{page['id']}/revisions", headers=owner.headers)
    assert revisions.json()["items"][0]["reason"] == "close"
    assert revisions.json()["items"][0]["version"] == max(stored.values())
