"""Fallback: when our handler fails before responding, safe and idempotent
requests are replayed to the legacy backend; a plain POST is not.

The failure is a real one: this app reaches Postgres through a TCP hop that
the test cuts, so its handlers meet a database that has gone away. No test
hook exists in the production code.
"""

import hashlib
import json

import httpx
import pytest

from tests.routing_support import PostgresHop, legacy_server, served
from tests.support import make_page


@pytest.fixture(scope="module")
def legacy():
    with legacy_server() as server:
        yield server


@pytest.fixture(scope="module")
async def hop(database_url):
    hop = PostgresHop(database_url)
    await hop.start()
    yield hop
    await hop.cut()


@pytest.fixture(scope="module")
async def fallback_app(settings, legacy, hop):
    update = {"legacy_base_url": legacy.url, "database_url": hop.dsn, "db_pool_min": 1}
    async with served(settings.model_copy(update=update)) as (app, base):
        yield app, base
        await hop.resume()  # a clean shutdown with the database back


async def test_failed_safe_and_keyed_requests_are_replayed_and_a_plain_post_is_not(
    client, fallback_app, hop, legacy, member, workspace, logs
):
    app, base = fallback_app
    page = await make_page(client, member, workspace, "Fallback")
    page_path = f"/api/v1/pages/{page['id']}"
    async with httpx.AsyncClient(base_url=base, headers=member.headers, timeout=30) as http:
        healthy = await http.get(page_path)
        assert healthy.status_code == 200 and healthy.headers["x-served-by"] == "lowcode"

        await hop.cut()  # the database is gone for this app

        got = await http.get(page_path, headers={"X-Request-ID": "fallback-get"})
        assert got.status_code == 200, got.text
        assert got.headers["x-served-by"] == "legacy"
        assert (got.json()["method"], got.json()["path"]) == ("GET", page_path)

        document = {"schema": {"rootId": "r", "components": {"r": {"id": "r", "name": "Root"}}}}
        put = await http.put(f"{page_path}/schema", headers={"If-Match": '"1"'}, json=document)
        assert put.headers["x-served-by"] == "legacy", put.text
        sent = json.dumps(document, separators=(",", ":")).encode()
        assert put.json()["body_sha256"] == hashlib.sha256(sent).hexdigest()

        keyed = {
            "baseVersion": 1,
            "opId": "op-fallback-1",
            "patches": [{"op": "replace", "path": "/rootId", "value": "r"}],
        }
        patch = await http.post(f"{page_path}/patch", json=keyed)
        assert patch.headers["x-served-by"] == "legacy", patch.text
        assert json.loads(patch.json()["body"]) == keyed

        plain = await http.post(f"/api/v1/workspaces/{workspace}/pages", json={"title": "Once"})
        assert plain.status_code >= 500
        assert plain.headers["x-served-by"] == "lowcode"
        assert plain.headers["content-type"] == "application/problem+json"

    seen = legacy.requests_seen()
    assert {"method": "GET", "path": page_path} in seen
    assert {"method": "POST", "path": f"{page_path}/patch"} in seen
    assert {"method": "POST", "path": f"/api/v1/workspaces/{workspace}/pages"} not in seen

    metrics = app.metrics.render().decode()
    assert 'lowcode_legacy_fallbacks_total{result="replayed"} 3.0' in metrics
    assert 'lowcode_legacy_fallbacks_total{result="not_replayable"} 1.0' in metrics
    line = next(e for e in logs.lines("lowcode.access") if e.get("request_id") == "fallback-get")
    assert line["served_by"] == "legacy" and line["status"] == 200
