"""Sync jobs and runs through the API (responses validated against the spec):
definitions checked on the datasources before they are saved, runs started
and canceled, one active run per job, workspace isolation and roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.api.sources import create_dataset, create_datasource
from tests.api.sync.support import create_job, job_body, sink_datasource
from tests.support import add_member, assert_problem, make_admin, make_workspace, signup


@pytest.fixture(scope="module")
async def team(client, source, sink):
    owner = await signup(client, "sync-owner")
    editor = await signup(client, "sync-editor")
    viewer = await signup(client, "sync-viewer")
    outsider = await signup(client, "sync-outsider")
    ws = await make_workspace(client, owner, "Sync")
    await add_member(client, owner, ws, editor, "editor")
    await add_member(client, owner, ws, viewer, "viewer")
    src = await create_datasource(client, owner, ws, source)
    dst = await sink_datasource(client, owner, ws, source, sink)
    return {"owner": owner, "editor": editor, "viewer": viewer, "outsider": outsider, "ws": ws,
            "src": src["id"], "dst": dst["id"]}  # fmt: skip


def table(datasource_id: str, name: str, schema: str = "public") -> dict[str, str]:
    return {"type": "table", "datasource_id": datasource_id, "schema": schema, "table": name}


def sink_at(datasource_id: str, name: str) -> dict[str, str]:
    return {"datasource_id": datasource_id, "table": name}


async def test_a_sync_job_is_checked_saved_listed_changed_and_deleted(client, team):
    editor, ws = team["editor"], team["ws"]
    body = job_body(
        table(team["src"], "orders"), sink_at(team["dst"], "orders_copy"), "upsert",
        key_columns=["id"], schedule="*/15  * * * *", description="nightly",
    )  # fmt: skip
    created = await create_job(client, editor, ws, body)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["source"] == table(team["src"], "orders")
    assert job["sink"] == {"datasource_id": team["dst"], "schema": "public", "table": "orders_copy"}
    assert (job["mode"], job["key_columns"], job["schedule"]) == ("upsert", ["id"], "*/15 * * * *")
    next_run = datetime.fromisoformat(job["next_run_at"])
    assert next_run > datetime.now(UTC) and next_run.minute % 15 == 0
    got = await client.get(f"/api/v1/sync-jobs/{job['id']}", headers=team["viewer"].headers)
    assert got.json() == job
    listed = await client.get(f"/api/v1/workspaces/{ws}/sync-jobs", headers=team["viewer"].headers)
    assert job["id"] in [j["id"] for j in listed.json()["items"]]
    changed = await client.patch(
        f"/api/v1/sync-jobs/{job['id']}",
        headers=editor.headers,
        json={"name": "renamed", "schedule": None, "version": 1},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["schedule"], changed.json()["next_run_at"]) == (
        "renamed", None, None,
    )  # fmt: skip
    stale = await client.patch(
        f"/api/v1/sync-jobs/{job['id']}", headers=editor.headers, json={"name": "x", "version": 1}
    )
    assert assert_problem(stale, 409, "VERSION_CONFLICT")["currentVersion"] == 2
    to_append = await client.patch(
        f"/api/v1/sync-jobs/{job['id']}",
        headers=editor.headers,
        json={"mode": "append", "key_columns": []},
    )
    assert to_append.status_code == 200 and to_append.json()["key_columns"] == []
    assert (
        await client.delete(f"/api/v1/sync-jobs/{job['id']}", headers=editor.headers)
    ).status_code == 403
    deleted = await client.delete(f"/api/v1/sync-jobs/{job['id']}", headers=team["owner"].headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/sync-jobs/{job['id']}", headers=editor.headers)
    assert_problem(gone, 404, "SYNC_JOB_NOT_FOUND")


async def test_a_dataset_can_be_the_source_and_a_missing_sink_is_accepted(client, team):
    editor, ws = team["editor"], team["ws"]
    dataset = await create_dataset(
        client, editor, ws, team["src"], "SELECT id, name FROM customers WHERE id < 3"
    )
    assert dataset.status_code == 201, dataset.text
    body = job_body(
        {"type": "dataset", "dataset_id": dataset.json()["id"]},
        sink_at(team["dst"], f'new "table" {uuid.uuid4().hex[:6]}'),
    )
    created = await create_job(client, editor, ws, body)
    assert created.status_code == 201, created.text
    assert created.json()["source"] == {"type": "dataset", "dataset_id": dataset.json()["id"]}
    # The dataset and the datasources are in use now.
    in_use = await client.delete(
        f"/api/v1/datasets/{dataset.json()['id']}", headers=team["owner"].headers
    )
    assert_problem(in_use, 409, "DATASET_IN_USE")
    in_use = await client.delete(
        f"/api/v1/datasources/{team['dst']}", headers=team["owner"].headers
    )
    assert_problem(in_use, 409, "DATASOURCE_IN_USE")


@pytest.mark.parametrize(
    ("change", "status", "code", "says"),
    [
        ({"source": "missing-table"}, 422, "SYNC_SOURCE_INVALID", "no table public.nope"),
        ({"sink": "narrow"}, 422, "SYNC_SINK_INVALID", "source type int4 does not fit"),
        ({"sink": "needs_more"}, 422, "SYNC_SINK_INVALID", "NOT NULL without a default"),
        ({"sink": "a_view"}, 422, "SYNC_SINK_INVALID", "is not a table"),
        (
            {"mode": "upsert", "sink": "unkeyed", "key_columns": ["id"]},
            422,
            "SYNC_SINK_INVALID",
            "unique index",
        ),
        ({"mode": "upsert"}, 400, "VALIDATION_FAILED", "key_columns"),
        (
            {"mode": "upsert", "key_columns": ["nope"]},
            422,
            "SYNC_JOB_INVALID",
            "'nope' is not a column",
        ),
        ({"mode": "append", "key_columns": ["id"]}, 400, "VALIDATION_FAILED", "upsert"),
        ({"schedule": "61 * * * *"}, 422, "SYNC_SCHEDULE_INVALID", "not a valid cron"),
        ({"schedule": "* * * *"}, 400, "VALIDATION_FAILED", "schedule"),
        ({"schedule": "@daily"}, 400, "VALIDATION_FAILED", "schedule"),
        ({"sink": "a.b"}, 400, "VALIDATION_FAILED", "table"),
        ({"sink": "é" * 40}, 422, "SYNC_JOB_INVALID", "longer than 63 bytes"),
        (
            {"sink_schema": "pg_catalog"},
            422,
            "SYNC_JOB_INVALID",
            "a system schema cannot be a sink",
        ),
        ({"source": "unknown-datasource"}, 404, "DATASOURCE_NOT_FOUND", "no datasource"),
        ({"source": "bad-dataset"}, 422, "SYNC_SOURCE_INVALID", "fails on its datasource"),
    ],
)
async def test_a_definition_that_cannot_work_is_refused_when_saved(
    client, team, database_url, change, status, code, says
):
    editor, ws = team["editor"], team["ws"]
    source = table(team["src"], "orders")
    if change.get("source") == "missing-table":
        source = table(team["src"], "nope")
    elif change.get("source") == "unknown-datasource":
        source = table(str(uuid.uuid4()), "orders")
    elif change.get("source") == "bad-dataset":
        dataset = await create_dataset(client, editor, ws, team["src"], "SELECT id FROM orders")
        ours = await asyncpg.connect(database_url)
        try:  # the SQL edited behind the API's back: it no longer prepares
            await ours.execute(
                "UPDATE datasets SET sql = 'SELECT idd FROM orders' WHERE id = $1",
                uuid.UUID(dataset.json()["id"]),
            )
        finally:
            await ours.close()
        source = {"type": "dataset", "dataset_id": dataset.json()["id"]}
    target = sink_at(team["dst"], change.get("sink", "orders_copy"))
    if "sink_schema" in change:
        target["schema"] = change["sink_schema"]
    body = job_body(source, target, change.get("mode", "append"))
    for key in ("key_columns", "schedule"):
        if key in change:
            body[key] = change[key]
    refused = await create_job(client, editor, ws, body)
    problem = assert_problem(refused, status, code)
    assert says in refused.text, problem


async def test_a_sink_the_datasource_user_may_not_write_is_refused(client, team, source, sink):
    reader = await sink_datasource(
        client, team["owner"], team["ws"], source, sink, username=sink.reader
    )
    for name, says in (("read_only", "may not INSERT"), ("brand_new", "may not create tables")):
        refused = await create_job(
            client, team["editor"], team["ws"],
            job_body(table(team["src"], "orders"), sink_at(reader["id"], name)),
        )  # fmt: skip
        assert says in assert_problem(refused, 422, "SYNC_SINK_INVALID")["detail"]


async def test_a_datasource_of_another_workspace_cannot_be_used(client, team, source):
    other_ws = await make_workspace(client, team["outsider"], "Elsewhere")
    foreign = await create_datasource(client, team["outsider"], other_ws, source)
    refused = await create_job(
        client, team["editor"], team["ws"],
        job_body(table(foreign["id"], "orders"), sink_at(team["dst"], "orders_copy")),
    )  # fmt: skip
    assert_problem(refused, 404, "DATASOURCE_NOT_FOUND")


async def test_runs_start_one_at_a_time_and_a_queued_run_cancels_at_once(client, team):
    editor, viewer, ws = team["editor"], team["viewer"], team["ws"]
    created = await create_job(
        client,
        editor,
        ws,
        job_body(table(team["src"], "orders"), sink_at(team["dst"], "orders_copy")),
    )
    job_id = created.json()["id"]
    started = await client.post(f"/api/v1/sync-jobs/{job_id}/runs", headers=editor.headers)
    assert started.status_code == 202, started.text
    run = started.json()
    assert (run["status"], run["trigger"], run["requested_by"]) == (
        "QUEUED",
        "manual",
        editor.id,
    )
    assert isinstance(run["job_id"], int) and run["rows_written"] == 0
    again = await client.post(f"/api/v1/sync-jobs/{job_id}/runs", headers=editor.headers)
    assert assert_problem(again, 409, "SYNC_RUN_ACTIVE")["active_run_id"] == run["id"]
    busy = await client.delete(f"/api/v1/sync-jobs/{job_id}", headers=team["owner"].headers)
    assert assert_problem(busy, 409, "SYNC_RUN_ACTIVE")["active_run_id"] == run["id"]
    assert (
        await client.post(f"/api/v1/sync-runs/{run['id']}/cancel", headers=viewer.headers)
    ).status_code == 403
    canceled = await client.post(f"/api/v1/sync-runs/{run['id']}/cancel", headers=editor.headers)
    assert canceled.status_code == 202, canceled.text
    assert canceled.json()["status"] == "CANCELED" and canceled.json()["canceled_by"] == editor.id
    ended = await client.post(f"/api/v1/sync-runs/{run['id']}/cancel", headers=editor.headers)
    assert_problem(ended, 409, "SYNC_RUN_ENDED")
    second = await client.post(f"/api/v1/sync-jobs/{job_id}/runs", headers=editor.headers)
    assert second.status_code == 202
    runs = await client.get(f"/api/v1/sync-jobs/{job_id}/runs", headers=viewer.headers)
    assert [r["id"] for r in runs.json()["items"]] == [second.json()["id"], run["id"]]
    assert runs.json()["total"] == 2
    detail = await client.get(f"/api/v1/sync-runs/{run['id']}", headers=viewer.headers)
    assert detail.json()["status"] == "CANCELED" and detail.json()["finished_at"]
    await client.post(f"/api/v1/sync-runs/{second.json()['id']}/cancel", headers=editor.headers)


async def test_the_run_job_payload_names_the_run_and_nothing_secret(
    app, client, team, database_url
):
    created = await create_job(
        client, team["editor"], team["ws"],
        job_body(table(team["src"], "orders"), sink_at(team["dst"], "orders_copy")),
    )  # fmt: skip
    run = (
        await client.post(
            f"/api/v1/sync-jobs/{created.json()['id']}/runs", headers=team["editor"].headers
        )
    ).json()
    admin = await make_admin(app, client, "sync-admin")
    job = await client.get(f"/api/v1/admin/jobs/{run['job_id']}", headers=admin.headers)
    assert job.status_code == 200, job.text
    assert job.json()["entrypoint"] == "sync.run"
    assert job.json()["payload"] == {"run_id": run["id"]}
    conn = await asyncpg.connect(database_url)
    try:
        payload = await conn.fetchval("SELECT payload FROM pgqueuer WHERE id = $1", run["job_id"])
        passwords = await conn.fetch("SELECT password_ciphertext FROM datasources")
    finally:
        await conn.close()
    assert (
        payload is not None and b"pw-" not in bytes(payload) and b"password" not in bytes(payload)
    )
    assert all(
        p["password_ciphertext"] is None or p["password_ciphertext"].encode() not in bytes(payload)
        for p in passwords
    )
    await client.post(f"/api/v1/sync-runs/{run['id']}/cancel", headers=team["editor"].headers)


async def test_outsiders_see_nothing_and_viewers_only_read(client, team):
    editor, viewer, outsider, ws = team["editor"], team["viewer"], team["outsider"], team["ws"]
    body = job_body(table(team["src"], "orders"), sink_at(team["dst"], "orders_copy"))
    job = (await create_job(client, editor, ws, body)).json()
    run = (await client.post(f"/api/v1/sync-jobs/{job['id']}/runs", headers=editor.headers)).json()
    for method, path, json in (
        ("GET", f"/api/v1/workspaces/{ws}/sync-jobs", None),
        ("POST", f"/api/v1/workspaces/{ws}/sync-jobs", {**body, "name": "x"}),
        ("GET", f"/api/v1/sync-jobs/{job['id']}", None),
        ("PATCH", f"/api/v1/sync-jobs/{job['id']}", {"name": "x"}),
        ("DELETE", f"/api/v1/sync-jobs/{job['id']}", None),
        ("POST", f"/api/v1/sync-jobs/{job['id']}/runs", None),
        ("GET", f"/api/v1/sync-jobs/{job['id']}/runs", None),
        ("GET", f"/api/v1/sync-runs/{run['id']}", None),
        ("POST", f"/api/v1/sync-runs/{run['id']}/cancel", None),
    ):
        response = await client.request(method, path, headers=outsider.headers, json=json)
        assert response.status_code == 404, (method, path, response.text)
    for method, path, json in (
        ("POST", f"/api/v1/workspaces/{ws}/sync-jobs", {**body, "name": "y"}),
        ("PATCH", f"/api/v1/sync-jobs/{job['id']}", {"name": "y"}),
        ("DELETE", f"/api/v1/sync-jobs/{job['id']}", None),
        ("POST", f"/api/v1/sync-jobs/{job['id']}/runs", None),
        ("POST", f"/api/v1/sync-runs/{run['id']}/cancel", None),
    ):
        response = await client.request(method, path, headers=viewer.headers, json=json)
        assert_problem(response, 403, "FORBIDDEN")
    for path in (
        f"/api/v1/sync-jobs/{job['id']}",
        f"/api/v1/sync-jobs/{job['id']}/runs",
        f"/api/v1/sync-runs/{run['id']}",
    ):
        assert (await client.get(path, headers=viewer.headers)).status_code == 200
    missing = await client.get(f"/api/v1/sync-runs/{uuid.uuid4()}", headers=editor.headers)
    assert_problem(missing, 404, "SYNC_RUN_NOT_FOUND")
    await client.post(f"/api/v1/sync-runs/{run['id']}/cancel", headers=editor.headers)
