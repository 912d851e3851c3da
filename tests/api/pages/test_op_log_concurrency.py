"""The op log orders concurrent writers: one op per version, no gaps, no double applies."""

import asyncio
import json

import asyncpg
import pytest

from lowcode.pages.document import apply_patch
from tests.support import make_page, make_workspace, patch_page, prop, signup


@pytest.fixture(scope="module")
async def editor(client):
    return await signup(client, "concurrent")


async def stored_ops(database_url, page_id):
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT version, patch::text, op_id FROM page_ops WHERE page_id = $1 ORDER BY version",
            page_id,
        )
        return [{**r, "patch": json.loads(r["patch"])} for r in rows]
    finally:
        await conn.close()


async def test_twenty_writers_of_one_location_at_one_base_version_get_exactly_one_winner(
    client, editor
):
    ws = await make_workspace(client, editor)
    page = await make_page(client, editor, ws)
    root = page["schema"]["rootId"]

    async def write(i: int):
        return await patch_page(
            client, editor, page, prop(page, "title", i), base_version=1, op_id=f"w{i}"
        )

    responses = await asyncio.gather(*(write(i) for i in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19
    conflicts = [r.json() for r in responses if r.status_code == 409]
    assert all(c["code"] == "VERSION_CONFLICT" and c["currentVersion"] == 2 for c in conflicts)
    assert all(c["conflictVersion"] == 2 for c in conflicts)
    assert all(c["conflictPath"] == f"/components/{root}/props/title" for c in conflicts)


async def test_twenty_writers_of_different_locations_at_one_base_version_are_all_rebased(
    client, editor, database_url
):
    ws = await make_workspace(client, editor)
    page = await make_page(client, editor, ws)
    root = page["schema"]["rootId"]

    async def write(i: int):
        return await patch_page(
            client, editor, page, prop(page, f"w{i}", i), base_version=1, op_id=f"w{i}"
        )

    responses = await asyncio.gather(*(write(i) for i in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert sorted(r.json()["version"] for r in responses) == list(range(2, 22))
    ops = await stored_ops(database_url, page["id"])
    assert [o["version"] for o in ops] == list(range(2, 22))
    final = (await client.get(f"/api/v1/pages/{page['id']}", headers=editor.headers)).json()
    assert final["schema"]["components"][root]["props"] == {f"w{i}": i for i in range(20)}


async def test_concurrent_writers_that_retry_produce_a_gapless_log_that_replays_to_the_document(
    client, editor, database_url
):
    ws = await make_workspace(client, editor)
    page = await make_page(client, editor, ws)
    root = page["schema"]["rootId"]
    url = f"/api/v1/pages/{page['id']}"

    async def writer(i: int, ops: int = 3):
        for n in range(ops):
            op_id = f"t{i}-{n}"
            patch = [{"op": "add", "path": f"/components/{root}/props/{op_id}", "value": n}]
            while True:
                base = int(
                    (await client.get(url, headers=editor.headers)).headers["etag"].strip('"')
                )
                r = await client.post(
                    f"{url}/patch",
                    headers=editor.headers,
                    json={"baseVersion": base, "opId": op_id, "patches": patch},
                )
                if r.status_code == 200:
                    break
                assert r.status_code == 409 and r.json()["code"] == "VERSION_CONFLICT", r.text

    await asyncio.gather(*(writer(i) for i in range(20)))

    ops = await stored_ops(database_url, page["id"])
    assert [o["version"] for o in ops] == list(range(2, 62))  # 60 ops, versions 2..61
    assert len({o["op_id"] for o in ops}) == 60
    replayed = page["schema"]
    for op in ops:
        replayed = apply_patch(replayed, op["patch"])
    final = (await client.get(url, headers=editor.headers)).json()
    assert final["version"] == 61
    assert final["schema"] == replayed
    assert len(final["schema"]["components"][root]["props"]) == 60


async def test_the_same_op_id_sent_twice_and_concurrently_applies_once(
    client, editor, database_url
):
    ws = await make_workspace(client, editor)
    page = await make_page(client, editor, ws)
    root = page["schema"]["rootId"]
    body = {
        "baseVersion": 1,
        "opId": "retry-me",
        "patches": [{"op": "add", "path": f"/components/{root}/props/n", "value": 1}],
    }
    url = f"/api/v1/pages/{page['id']}/patch"

    concurrent = await asyncio.gather(
        *(client.post(url, headers=editor.headers, json=body) for _ in range(8))
    )
    later = await client.post(url, headers=editor.headers, json=body)

    results = [r.json() for r in [*concurrent, later]]
    assert all(r.status_code == 200 for r in [*concurrent, later])
    assert {r["version"] for r in results} == {2}
    assert sum(not r["duplicate"] for r in results) == 1
    ops = await stored_ops(database_url, page["id"])
    assert [(o["version"], o["op_id"]) for o in ops] == [(2, "retry-me")]
