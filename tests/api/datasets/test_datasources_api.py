"""Datasources through the API: roles, isolation, host policy, connection
tests, pools, and passwords that never leave the service."""

from __future__ import annotations

import uuid

from tests.api.sources import create_dataset, create_datasource
from tests.support import add_member, assert_problem, make_workspace, running_app, signup

SECRET_FIELDS = {"password", "password_ciphertext"}


async def test_an_editor_creates_a_datasource_and_nobody_ever_sees_its_password(client, source):
    owner, viewer = await signup(client, "owner"), await signup(client, "viewer")
    ws = await make_workspace(client, owner)
    await add_member(client, owner, ws, viewer, "viewer")
    body = source.datasource_body(name="Sales")
    created = await client.post(
        f"/api/v1/workspaces/{ws}/datasources", headers=owner.headers, json=body
    )
    assert created.status_code == 201, created.text
    ds = created.json()
    assert ds["has_password"] is True and ds["host"] == source.host and ds["version"] == 1
    assert not SECRET_FIELDS & set(ds)
    for who in (owner, viewer):
        got = await client.get(f"/api/v1/datasources/{ds['id']}", headers=who.headers)
        listed = await client.get(f"/api/v1/workspaces/{ws}/datasources", headers=who.headers)
        assert got.status_code == 200 and listed.status_code == 200
        assert body["password"] not in got.text + listed.text
        assert [d["id"] for d in listed.json()["items"]] == [ds["id"]]


async def test_viewers_cannot_create_change_test_or_delete_and_editors_cannot_delete(
    client, source
):
    owner, editor, viewer = [await signup(client, t) for t in ("o", "e", "v")]
    ws = await make_workspace(client, owner)
    await add_member(client, owner, ws, editor, "editor")
    await add_member(client, owner, ws, viewer, "viewer")
    ds = await create_datasource(client, editor, ws, source)
    base = f"/api/v1/datasources/{ds['id']}"
    create = await client.post(
        f"/api/v1/workspaces/{ws}/datasources",
        headers=viewer.headers,
        json=source.datasource_body(),
    )
    assert_problem(create, 403, "FORBIDDEN")
    patch = await client.patch(base, headers=viewer.headers, json={"name": "x"})
    assert_problem(patch, 403, "FORBIDDEN")
    assert_problem(await client.post(f"{base}/test", headers=viewer.headers), 403, "FORBIDDEN")
    assert_problem(await client.delete(base, headers=viewer.headers), 403, "FORBIDDEN")
    assert_problem(await client.delete(base, headers=editor.headers), 403, "FORBIDDEN")
    renamed = await client.patch(
        base, headers=editor.headers, json={"name": "renamed", "version": 1}
    )
    assert renamed.status_code == 200 and renamed.json()["version"] == 2
    stale = await client.patch(base, headers=editor.headers, json={"name": "again", "version": 1})
    assert assert_problem(stale, 409, "VERSION_CONFLICT")["currentVersion"] == 2
    assert (await client.delete(base, headers=owner.headers)).status_code == 204
    assert_problem(await client.get(base, headers=owner.headers), 404, "DATASOURCE_NOT_FOUND")


async def test_non_members_get_404_for_every_datasource_route(client, source):
    owner, stranger = await signup(client, "owner"), await signup(client, "stranger")
    ws = await make_workspace(client, owner)
    ds = await create_datasource(client, owner, ws, source)
    base = f"/api/v1/datasources/{ds['id']}"
    h = stranger.headers
    assert_problem(await client.get(base, headers=h), 404, "DATASOURCE_NOT_FOUND")
    assert_problem(
        await client.patch(base, headers=h, json={"name": "x"}), 404, "DATASOURCE_NOT_FOUND"
    )
    assert_problem(await client.delete(base, headers=h), 404, "DATASOURCE_NOT_FOUND")
    assert_problem(await client.post(f"{base}/test", headers=h), 404, "DATASOURCE_NOT_FOUND")
    listed = await client.get(f"/api/v1/workspaces/{ws}/datasources", headers=h)
    assert_problem(listed, 404, "WORKSPACE_NOT_FOUND")
    created = await client.post(
        f"/api/v1/workspaces/{ws}/datasources", headers=h, json=source.datasource_body()
    )
    assert_problem(created, 404, "WORKSPACE_NOT_FOUND")
    missing = await client.get(f"/api/v1/datasources/{uuid.uuid4()}", headers=owner.headers)
    assert_problem(missing, 404, "DATASOURCE_NOT_FOUND")


async def test_link_local_and_metadata_hosts_are_always_refused(client, source):
    owner = await signup(client, "owner")
    ws = await make_workspace(client, owner)
    for host in (
        "169.254.169.254",
        "169.254.0.1",
        "metadata.google.internal",
        "fe80::1",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "0.0.0.0",
    ):
        response = await client.post(
            f"/api/v1/workspaces/{ws}/datasources",
            headers=owner.headers,
            json=source.datasource_body(host=host),
        )
        assert_problem(response, 422, "DATASOURCE_HOST_REFUSED")
    ds = await create_datasource(client, owner, ws, source)
    moved = await client.patch(
        f"/api/v1/datasources/{ds['id']}", headers=owner.headers, json={"host": "169.254.169.254"}
    )
    assert_problem(moved, 422, "DATASOURCE_HOST_REFUSED")


async def test_allowed_hosts_narrow_where_datasources_may_point(settings, source):
    async with running_app(settings, datasource_allowed_hosts="10.0.0.0/8, *.db.example.com") as (
        _,
        client,
    ):
        owner = await signup(client, "owner")
        ws = await make_workspace(client, owner)
        url = f"/api/v1/workspaces/{ws}/datasources"
        for host, status in (
            ("10.1.2.3", 201),
            ("pg.db.example.com", 201),
            (source.host, 422),
            ("192.168.1.5", 422),
        ):
            r = await client.post(
                url, headers=owner.headers, json=source.datasource_body(host=host)
            )
            assert r.status_code == status, (host, r.text)


async def test_testing_a_datasource_reports_version_and_latency_or_why_not(client, source):
    owner = await signup(client, "owner")
    ws = await make_workspace(client, owner)
    good = await create_datasource(client, owner, ws, source)
    ok = await client.post(f"/api/v1/datasources/{good['id']}/test", headers=owner.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["ok"] is True and ok.json()["server_version"] and ok.json()["latency_ms"] > 0
    closed = await create_datasource(client, owner, ws, source, port=1)
    failed = await client.post(f"/api/v1/datasources/{closed['id']}/test", headers=owner.headers)
    assert failed.status_code == 200
    assert failed.json()["ok"] is False and "refused" in failed.json()["error"]
    nodb = await create_datasource(client, owner, ws, source, database="no_such_database")
    failed = await client.post(f"/api/v1/datasources/{nodb['id']}/test", headers=owner.headers)
    assert failed.json()["ok"] is False and "no_such_database" in failed.json()["error"]
    unknown = await create_datasource(client, owner, ws, source, host="no-such-host.invalid")
    failed = await client.post(f"/api/v1/datasources/{unknown['id']}/test", headers=owner.headers)
    assert failed.status_code == 200 and failed.json()["ok"] is False
    assert "cannot resolve" in failed.json()["error"]


async def test_a_datasource_used_by_a_dataset_cannot_be_deleted(client, source):
    owner = await signup(client, "owner")
    ws = await make_workspace(client, owner)
    ds = await create_datasource(client, owner, ws, source)
    dataset = await create_dataset(client, owner, ws, ds["id"], "SELECT id, name FROM customers")
    assert dataset.status_code == 201, dataset.text
    refused = await client.delete(f"/api/v1/datasources/{ds['id']}", headers=owner.headers)
    assert_problem(refused, 409, "DATASOURCE_IN_USE")
    gone = await client.delete(f"/api/v1/datasets/{dataset.json()['id']}", headers=owner.headers)
    assert gone.status_code == 204
    assert (
        await client.delete(f"/api/v1/datasources/{ds['id']}", headers=owner.headers)
    ).status_code == 204


async def test_a_datasource_pool_closes_when_the_datasource_changes_or_idles(app, client, source):
    import time

    owner = await signup(client, "pools")
    ws = await make_workspace(client, owner)
    ds = await create_datasource(client, owner, ws, source)
    dataset = await create_dataset(client, owner, ws, ds["id"], "SELECT name FROM customers")
    preview_url = f"/api/v1/datasets/{dataset.json()['id']}/preview"
    pools, ds_id = app.res.datasource_pools, uuid.UUID(ds["id"])
    assert pools.is_open(ds_id)  # validation on save used it
    changed = await client.patch(
        f"/api/v1/datasources/{ds['id']}", headers=owner.headers, json={"description": "moved"}
    )
    assert changed.status_code == 200 and not pools.is_open(ds_id)
    assert (await client.get(preview_url, headers=owner.headers)).status_code == 200
    assert pools.is_open(ds_id)
    await pools.reap(now=time.monotonic() + pools.idle_s + 1)
    assert not pools.is_open(ds_id)
    assert (await client.get(preview_url, headers=owner.headers)).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert "lowcode_datasource_pools " in metrics


async def test_a_version_beyond_int32_is_a_400_not_a_500(client, source):
    # Found by `make fuzz`: the version reached PostgreSQL's int4 and failed there.
    owner = await signup(client, "big-version")
    ws = await make_workspace(client, owner)
    ds = await create_datasource(client, owner, ws, source)
    response = await client.patch(
        f"/api/v1/datasources/{ds['id']}",
        headers=owner.headers,
        json={"name": "renamed", "version": 6_833_502_698},
    )
    assert_problem(response, 400, "VALIDATION_FAILED")
