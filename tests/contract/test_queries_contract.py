"""Every named query prepares against the migrated schema, passes `lowcode sql
vet`, and the committed generated interfaces are exactly what the generator
produces from them."""

from pathlib import Path

import asyncpg

from lowcode.codegen.queries import generate
from lowcode.codegen.vet import render, vet
from lowcode.settings import PROJECT_ROOT

QUERIES = PROJECT_ROOT / "queries"
GENERATED = PROJECT_ROOT / "generated/python/lowcode_gen/queries"


async def test_every_query_prepares_and_generated_interfaces_are_fresh(database_url, tmp_path):
    written = await generate(database_url, QUERIES, tmp_path, PROJECT_ROOT)
    assert len(written) > 2, "no queries found"
    for fresh in written:
        committed = (GENERATED / fresh.name).read_text()
        assert committed == fresh.read_text(), f"{fresh.name} is stale: run make generate"


async def test_todays_queries_pass_vet(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        report = await vet(conn, QUERIES, PROJECT_ROOT)
    finally:
        await conn.close()
    text, ok = render(report)
    assert ok, text


def test_generated_files_say_do_not_edit():
    for path in Path(PROJECT_ROOT / "generated/python").rglob("*.py"):
        head = path.read_text()[:300]
        assert "DO NOT EDIT" in head, path
