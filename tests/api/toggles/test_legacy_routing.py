"""Routing a workspace's route groups to a real legacy server (its own process),
through our app on a real socket: headers and bodies as they should arrive,
5 MB streamed both ways without buffering, hop-by-hop headers stripped, and
`X-Served-By` on every response."""

import asyncio
import hashlib
import time
import uuid

import httpx
import pytest

from tests.routing_support import legacy_server, served
from tests.support import make_page, make_workspace

MIB = 1024 * 1024
ROUTES = "/api/v1/admin/routes"


@pytest.fixture(scope="module")
def legacy():
    with legacy_server() as server:
        yield server


@pytest.fixture(scope="module")
async def routed_app(settings, legacy):
    async with served(settings.model_copy(update={"legacy_base_url": legacy.url})) as served_app:
        yield served_app


@pytest.fixture(scope="module")
async def http(routed_app):
    _, base = routed_app
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
async def routed_workspace(client, http, admin, member):
    """A workspace of `member` whose `pages` group the legacy backend serves."""
    workspace_id = await make_workspace(client, member, "Legacy tenant")
    response = await http.put(
        f"{ROUTES}/{workspace_id}", headers=admin.headers, json={"legacy_tags": ["pages"]}
    )
    assert response.status_code == 200, response.text
    yield workspace_id
    await http.put(f"{ROUTES}/{workspace_id}", headers=admin.headers, json={"legacy_tags": []})


def _echoed(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.json()["headers"]}


async def test_route_groups_are_validated_stored_and_listed(http, admin, member, client):
    workspace_id = await make_workspace(client, member, "Validated")
    bad = await http.put(
        f"{ROUTES}/{workspace_id}",
        headers=admin.headers,
        json={"legacy_tags": ["pages", "nope", "health", "admin"]},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_FAILED"
    assert [e["field"] for e in bad.json()["errors"]] == [
        "legacy_tags.1",
        "legacy_tags.2",
        "legacy_tags.3",
    ]
    # The spec's RoutableTag enum refuses them (and lists the candidates).
    assert "is not one of" in bad.json()["errors"][0]["message"]

    put = await http.put(
        f"{ROUTES}/{workspace_id}",
        headers=admin.headers,
        json={"legacy_tags": ["workspaces", "pages"]},
    )
    assert put.status_code == 200
    assert put.json()["legacy_tags"] == ["pages", "workspaces"]
    assert put.json()["updated_by"] == admin.id
    got = await http.get(f"{ROUTES}/{workspace_id}", headers=admin.headers)
    assert got.json() == put.json()
    listed = (await http.get(ROUTES, headers=admin.headers, params={"page_size": 100})).json()
    assert workspace_id in {r["workspace_id"] for r in listed["items"]}

    cleared = await http.put(
        f"{ROUTES}/{workspace_id}", headers=admin.headers, json={"legacy_tags": []}
    )
    assert cleared.json()["legacy_tags"] == [] and cleared.json()["updated_at"] is None
    never = await http.get(f"{ROUTES}/{uuid.uuid4()}", headers=admin.headers)
    assert never.status_code == 200 and never.json()["legacy_tags"] == []


async def test_a_routed_request_arrives_with_forwarding_headers_and_without_hop_by_hop_ones(
    http, member, routed_workspace, logs
):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await http.get(
        f"/api/v1/workspaces/{routed_workspace}/pages",
        params={"q": "sales", "sort": "title"},
        headers={
            **member.headers,
            "X-Request-ID": "req-routing-1",
            "traceparent": traceparent,
            "X-Forwarded-For": "198.51.100.7",
            "X-Custom": "kept",
            "Connection": "keep-alive, X-Client-Hop",
            "X-Client-Hop": "must not pass",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-served-by"] == "legacy"
    echo = response.json()
    assert (echo["method"], echo["path"]) == ("GET", f"/api/v1/workspaces/{routed_workspace}/pages")
    assert echo["query"] == "q=sales&sort=title"
    sent = _echoed(response)
    host = http.base_url.netloc.decode()
    assert sent["x-forwarded-for"] == "198.51.100.7, 127.0.0.1"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-host"] == host
    assert sent["via"] == "1.1 lowcode"
    assert sent["x-request-id"] == "req-routing-1"
    assert sent["traceparent"] == traceparent
    assert sent["x-custom"] == "kept"
    assert sent["authorization"] == member.headers["Authorization"]
    assert sent["host"] != host  # the upstream's own authority
    for hop in ("x-client-hop", "keep-alive", "te", "proxy-authorization", "upgrade"):
        assert hop not in sent, hop

    # The answer keeps its status and end-to-end headers, loses its hop-by-hop ones.
    assert response.headers["x-legacy"] == "yes"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert "x-hop" not in response.headers and "keep-alive" not in response.headers
    assert response.headers["via"] == "1.1 lowcode"
    assert response.headers["x-request-id"] == "req-routing-1"

    line = next(
        entry
        for entry in logs.lines("lowcode.access")
        if entry.get("request_id") == "req-routing-1"
    )
    assert line["served_by"] == "legacy" and line["status"] == 200
    assert line["route"] == "/api/v1/workspaces/{workspace_id}/pages"


async def test_a_request_that_already_came_through_us_is_served_here(
    http, member, routed_workspace
):
    # e.g. the legacy backend handing a request back: proxying it again would loop
    response = await http.get(
        f"/api/v1/workspaces/{routed_workspace}/pages",
        headers={**member.headers, "Via": "1.1 lowcode, 1.1 legacy-app"},
    )
    assert response.status_code == 200 and response.headers["x-served-by"] == "lowcode"
    assert response.json()["items"] == []


async def test_a_page_of_a_routed_workspace_is_found_through_its_id(
    client, http, member, routed_workspace, workspace
):
    routed_page = await make_page(client, member, routed_workspace, "Routed")
    local_page = await make_page(client, member, workspace, "Local")
    for _ in range(2):  # the second time from the lookup cache
        there = await http.get(f"/api/v1/pages/{routed_page['id']}", headers=member.headers)
        assert there.headers["x-served-by"] == "legacy"
        assert there.json()["path"] == f"/api/v1/pages/{routed_page['id']}"
    here = await http.get(f"/api/v1/pages/{local_page['id']}", headers=member.headers)
    assert here.status_code == 200 and here.headers["x-served-by"] == "lowcode"
    assert here.json()["title"] == "Local"
    # Other route groups of the routed workspace stay here.
    members = await http.get(
        f"/api/v1/workspaces/{routed_workspace}/members", headers=member.headers
    )
    assert members.status_code == 200 and members.headers["x-served-by"] == "lowcode"


async def test_a_json_body_and_a_legacy_error_pass_through_unchanged(
    http, member, routed_workspace
):
    response = await http.post(
        f"/api/v1/workspaces/{routed_workspace}/pages",
        headers={**member.headers, "x-test-status": "503"},
        json={"title": "Made in legacy"},
    )
    assert response.status_code == 503 and response.headers["x-served-by"] == "legacy"
    assert response.json()["body"] == '{"title":"Made in legacy"}'
    assert _echoed(response)["content-length"] == str(len('{"title":"Made in legacy"}'))


async def test_x_served_by_is_on_every_response(http, client, member, routed_workspace):
    local = [
        await http.get("/health/live"),
        await http.get("/metrics"),
        await http.get("/api/v1/nope"),
        await http.get("/api/v1/workspaces"),
        await http.get("/api/v1/workspaces", headers=member.headers),
        await http.post("/api/v1/workspaces", headers=member.headers, json={}),
        await http.get("/api/v1/pages/not-a-uuid", headers=member.headers),
        await http.post(
            "/ofrep/v1/evaluate/flags",
            headers=member.headers,
            json={"context": {"targetingKey": routed_workspace}},
        ),
        await http.request("OPTIONS", "/api/v1/workspaces"),
        # The app without a legacy backend says so too.
        await client.get("/health/live"),
    ]
    for response in local:
        assert response.headers["x-served-by"] == "lowcode", (response.request.url, response.text)
    routed = await http.head(f"/api/v1/workspaces/{routed_workspace}/pages", headers=member.headers)
    assert routed.status_code == 200 and routed.headers["x-served-by"] == "legacy"


async def test_a_5_mb_upload_streams_to_the_legacy_backend_as_it_arrives(
    http, legacy, member, routed_workspace
):
    upload_id = uuid.uuid4().hex
    payload = hashlib.sha256(b"seed").digest() * (5 * MIB // 32)
    assert len(payload) == 5 * MIB

    async def body():
        yield payload[: 2 * MIB]
        # The rest is held back until the legacy server has bytes of this
        # upload: a proxy that buffered the whole body would wait forever.
        deadline = time.monotonic() + 15
        async with httpx.AsyncClient(base_url=legacy.url) as direct:
            while (await direct.get(f"/_control/progress/{upload_id}")).json()["received"] == 0:
                assert time.monotonic() < deadline, "nothing reached the legacy server"
                await asyncio.sleep(0.02)
        for i in range(2 * MIB, 5 * MIB, MIB):
            yield payload[i : i + MIB]

    response = await http.post(
        f"/api/v1/workspaces/{routed_workspace}/pages",
        headers={
            **member.headers,
            "content-type": "application/octet-stream",
            "content-length": str(len(payload)),
            "x-upload-id": upload_id,
        },
        content=body(),
    )
    assert response.status_code == 200, response.text
    echo = response.json()
    assert echo["body_length"] == 5 * MIB
    assert echo["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert _echoed(response)["content-length"] == str(5 * MIB)  # not re-chunked


async def test_a_5_mb_download_streams_to_the_client_as_it_arrives(
    http, legacy, member, routed_workspace
):
    gate = uuid.uuid4().hex
    size = 5 * MIB
    received = bytearray()
    released = False
    async with http.stream(
        "GET",
        f"/api/v1/workspaces/{routed_workspace}/pages",
        headers={
            **member.headers,
            "x-test-mode": "download",
            "x-test-size": str(size),
            "x-test-gate": gate,
        },
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-served-by"] == "legacy"
        assert response.headers["content-length"] == str(size)
        async for chunk in response.aiter_raw():
            received.extend(chunk)
            if not released and len(received) >= MIB:
                # The legacy server sends the rest only now: had the proxy
                # waited for the whole body, this first MiB would never come.
                assert len(received) == MIB
                async with httpx.AsyncClient(base_url=legacy.url) as direct:
                    assert (await direct.post(f"/_control/release/{gate}")).status_code == 204
                released = True
    assert released and len(received) == size
    assert received[:MIB] == b"\x00" * MIB and received[-1:] == b"\x04"


async def test_a_client_that_leaves_mid_download_lets_go_of_the_legacy_backend(
    http, legacy, member, routed_workspace
):
    gate = uuid.uuid4().hex
    async with http.stream(
        "GET",
        f"/api/v1/workspaces/{routed_workspace}/pages",
        headers={
            **member.headers,
            "x-test-mode": "download",
            "x-test-size": str(5 * MIB),
            "x-test-gate": gate,
        },
    ) as response:
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received >= MIB:
                break  # the legacy server now stalls: leave without waiting
    # Leaving closed our connection; the proxy must drop its legacy exchange
    # too, although the legacy server has nothing more to send yet.
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient(base_url=legacy.url) as direct:
        while (await direct.get(f"/_control/downloads/{gate}")).json()["state"] != "aborted":
            assert time.monotonic() < deadline, "the proxy kept the legacy download open"
            await asyncio.sleep(0.05)


async def test_routing_back_serves_the_workspace_here_again(client, http, admin, member):
    workspace_id = await make_workspace(client, member, "Round trip")
    path = f"/api/v1/workspaces/{workspace_id}/pages"
    for tags, served_by in ((["pages"], "legacy"), ([], "lowcode")):
        await http.put(
            f"{ROUTES}/{workspace_id}", headers=admin.headers, json={"legacy_tags": tags}
        )
        response = await http.get(path, headers=member.headers)
        assert response.headers["x-served-by"] == served_by


async def test_datasources_datasets_sync_jobs_and_runs_are_routed_through_their_ids(
    client, http, admin, member, workspace, source
):
    """Their paths name no workspace: each id is looked up (`routing/resolve.py`)."""
    from tests.api.sources import create_dataset, create_datasource

    routed = await make_workspace(client, member, "Routed data")
    ids = {}
    for name, ws in (("routed", routed), ("local", workspace)):
        ds = await create_datasource(client, member, ws, source)
        dataset = await create_dataset(client, member, ws, ds["id"], "SELECT id FROM orders")
        job = await client.post(
            f"/api/v1/workspaces/{ws}/sync-jobs",
            headers=member.headers,
            json={
                "name": f"routed-{uuid.uuid4().hex[:6]}",
                "source": {"type": "dataset", "dataset_id": dataset.json()["id"]},
                "sink": {"datasource_id": ds["id"], "table": f"r_{uuid.uuid4().hex[:6]}"},
                "mode": "append",
            },
        )
        assert job.status_code == 201, job.text
        run = await client.post(
            f"/api/v1/sync-jobs/{job.json()['id']}/runs", headers=member.headers
        )
        ids[name] = [
            f"/api/v1/datasources/{ds['id']}",
            f"/api/v1/datasets/{dataset.json()['id']}",
            f"/api/v1/sync-jobs/{job.json()['id']}",
            f"/api/v1/sync-jobs/{job.json()['id']}/runs",
            f"/api/v1/sync-runs/{run.json()['id']}",
        ]
        await client.post(f"/api/v1/sync-runs/{run.json()['id']}/cancel", headers=member.headers)
    tags = ["datasources", "datasets", "sync"]
    put = await http.put(f"{ROUTES}/{routed}", headers=admin.headers, json={"legacy_tags": tags})
    assert put.status_code == 200, put.text
    try:
        for path in ids["routed"]:
            there = await http.get(path, headers=member.headers)
            assert there.headers["x-served-by"] == "legacy", path
            assert there.json()["path"] == path
        for path in ids["local"]:
            here = await http.get(path, headers=member.headers)
            assert (here.status_code, here.headers["x-served-by"]) == (200, "lowcode"), path
    finally:
        await http.put(f"{ROUTES}/{routed}", headers=admin.headers, json={"legacy_tags": []})
