"""Every named query prepares against the migrated schema, and the committed
generated interfaces are exactly what the generator produces from them."""

from pathlib import Path

import asyncpg

from lowcode.codegen.queries import describe_queries, render_context
from lowcode.settings import PROJECT_ROOT

QUERIES = PROJECT_ROOT / "queries"
GENERATED = PROJECT_ROOT / "generated/python/lowcode_gen/queries"


async def test_every_query_prepares_and_generated_interfaces_are_fresh(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        described = await describe_queries(conn, QUERIES)
    finally:
        await conn.close()
    assert described, "no queries found"
    contexts = sorted({q.context for q in described})
    for context in contexts:
        fresh = render_context(
            context, [q for q in described if q.context == context], PROJECT_ROOT
        )
        committed = (GENERATED / f"{context}.py").read_text()
        assert committed == fresh, f"generated/…/queries/{context}.py is stale: run make generate"


def test_generated_files_say_do_not_edit():
    for path in Path(PROJECT_ROOT / "generated/python").rglob("*.py"):
        head = path.read_text()[:300]
        assert "DO NOT EDIT" in head, path
