"""Many editors, several rooms, real concurrency: everyone ends with the stored document."""

import asyncio

import asyncpg

from tests.api.collab.editors import join
from tests.support import add_member, make_page, make_workspace, signup


async def stored_versions(database_url, page_id):
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT version FROM page_ops WHERE page_id = $1 ORDER BY version", page_id
        )
        return [r["version"] for r in rows]
    finally:
        await conn.close()


async def test_thirty_editors_in_three_rooms_converge_on_the_stored_document(
    client, live, database_url
):
    owner = await signup(client, "conv-owner")
    others = [await signup(client, f"conv{i}") for i in range(2)]
    ws = await make_workspace(client, owner)
    for other in others:
        await add_member(client, owner, ws, other, "editor")
    accounts = [owner, *others]
    pages = [await make_page(client, owner, ws, f"room {i}") for i in range(3)]

    editors = []
    for i in range(30):
        page = pages[i % 3]
        editors.append((page, await join(live, page, accounts[i % 3], seed=i)))

    await asyncio.gather(*(e.edit(seconds=4) for _, e in editors))

    total_conflicts = sum(e.conflicts for _, e in editors)
    for page in pages:
        stored = (await client.get(f"/api/v1/pages/{page['id']}", headers=owner.headers)).json()
        versions = await stored_versions(database_url, page["id"])
        assert versions == list(range(2, stored["version"] + 1)), "gap in the op log"
        room_editors = [e for p, e in editors if p["id"] == page["id"]]
        acked = sorted(v for e in room_editors for _, v in e.acked)
        assert acked == versions, "every stored op was acked exactly once"
        for editor in room_editors:
            await editor.settle(stored["version"])
            assert editor.document == stored["schema"]
            assert editor.peer.violations == []
    assert total_conflicts > 0, "the test should have produced conflicts"
    for _, editor in editors:
        await editor.close()
