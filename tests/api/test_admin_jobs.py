"""The jobs admin API end to end (responses validated against the spec):
admin only; list, show, retry, cancel and stats over real queued jobs."""

import asyncio
import uuid
from datetime import timedelta

import pytest

from lowcode.jobs import Entrypoint, enqueue_many
from lowcode.platform.db import transaction
from tests.jobs_support import Note, job_status, running_worker, unique, wait_until
from tests.support import make_admin, signup

JOBS = "/api/v1/admin/jobs"


@pytest.fixture(scope="module")
async def admin(app, client):
    return await make_admin(app, client)


@pytest.fixture(scope="module")
async def user(client):
    return await signup(client, "plain")


class Flaky:
    """Fails while `failing` is set; notes every run."""

    def __init__(self) -> None:
        self.failing = True
        self.runs = 0

    async def __call__(self, ctx, note: Note) -> None:
        self.runs += 1
        if self.failing:
            raise ValueError(f"upstream said no to {note.key}")


async def put(app, ep, *notes: Note, **options) -> list[int]:
    async with transaction(app.res.pool) as conn:
        ids = await enqueue_many(app.res, conn, ep, list(notes), **options)
    return [i for i in ids if i is not None]


async def held_job(app, flaky: Flaky) -> tuple[Entrypoint, int]:
    ep = Entrypoint(unique("flaky"), Note, flaky, max_attempts=1)
    (job_id,) = await put(app, ep, Note(key="k1"))
    async with running_worker(app.res, ep):
        await wait_until(lambda: _is(app, job_id, "failed"))
    return ep, job_id


async def _is(app, job_id, status):
    return await job_status(app.res, job_id) == status


async def test_a_plain_user_gets_403_from_every_admin_jobs_endpoint(client, user):
    for method, path in [
        ("GET", JOBS),
        ("GET", f"{JOBS}/stats"),
        ("GET", f"{JOBS}/1"),
        ("POST", f"{JOBS}/1/retry"),
        ("POST", f"{JOBS}/1/cancel"),
    ]:
        response = await client.request(method, path, headers=user.headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "FORBIDDEN"
    assert (await client.get(JOBS)).status_code == 401


async def test_admin_lists_jobs_by_status_and_entrypoint_a_page_at_a_time(app, client, admin):
    ep = Entrypoint(unique("listed"), Note, Flaky())
    ids = await put(app, ep, *[Note(key=str(i)) for i in range(5)])
    first = await client.get(
        JOBS,
        headers=admin.headers,
        params={"entrypoint": ep.name, "status": "queued", "page_size": 2},
    )
    assert first.status_code == 200
    body = first.json()
    assert body["total"] == 5 and body["page"] == 1 and body["page_size"] == 2
    assert [j["id"] for j in body["items"]] == sorted(ids, reverse=True)[:2]
    assert all(j["status"] == "queued" and j["entrypoint"] == ep.name for j in body["items"])
    last = await client.get(
        JOBS, headers=admin.headers, params={"entrypoint": ep.name, "page": 3, "page_size": 2}
    )
    assert [j["id"] for j in last.json()["items"]] == [min(ids)]
    none_failed = await client.get(
        JOBS, headers=admin.headers, params={"entrypoint": ep.name, "status": "failed"}
    )
    assert none_failed.json()["total"] == 0
    bad = await client.get(JOBS, headers=admin.headers, params={"status": "exploded"})
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_FAILED"


async def test_admin_sees_a_held_job_with_its_payload_attempts_and_last_error(app, client, admin):
    _, job_id = await held_job(app, Flaky())
    response = await client.get(f"{JOBS}/{job_id}", headers=admin.headers)
    assert response.status_code == 200
    job = response.json()
    assert job["status"] == "failed" and job["attempts"] == 1
    assert job["payload"] == {"key": "k1", "fail_times": 0, "hold_s": 0.0}
    assert job["last_error"]["type"] == "ValueError"
    assert job["last_error"]["message"] == "upstream said no to k1"
    assert "Traceback" in job["last_error"]["traceback"]
    assert [e["status"] for e in job["history"]] == ["failed", "running", "queued"]


async def test_admin_retries_a_held_job_and_it_then_succeeds(app, client, admin):
    flaky = Flaky()
    ep, job_id = await held_job(app, flaky)
    flaky.failing = False
    async with running_worker(app.res, ep):
        response = await client.post(f"{JOBS}/{job_id}/retry", headers=admin.headers)
        assert response.status_code == 200
        assert response.json()["status"] in ("queued", "running", "succeeded")
        await wait_until(lambda: _is(app, job_id, "successful"))
    assert flaky.runs == 2
    finished = (await client.get(f"{JOBS}/{job_id}", headers=admin.headers)).json()
    assert finished["status"] == "succeeded" and finished["payload"] is None
    assert finished["history"][0]["status"] == "succeeded"


async def test_only_a_held_job_can_be_retried_and_an_unknown_one_is_not_found(app, client, admin):
    ep = Entrypoint(unique("queued"), Note, Flaky())
    (job_id,) = await put(app, ep, Note(key="q"))
    queued = await client.post(f"{JOBS}/{job_id}/retry", headers=admin.headers)
    assert queued.status_code == 409 and queued.json()["code"] == "JOB_NOT_RETRYABLE"
    missing = await client.post(f"{JOBS}/987654321/retry", headers=admin.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "JOB_NOT_FOUND"
    shown = await client.get(f"{JOBS}/987654321", headers=admin.headers)
    assert shown.status_code == 404
    chinese = await client.post(
        f"{JOBS}/{job_id}/retry", headers={**admin.headers, "Accept-Language": "zh-CN"}
    )
    assert chinese.json()["title"] == "任务不可重试"


async def test_admin_cancels_a_queued_job_once(app, client, admin):
    ep = Entrypoint(unique("cancel"), Note, Flaky())
    (job_id,) = await put(app, ep, Note(key="c"))
    response = await client.post(f"{JOBS}/{job_id}/cancel", headers=admin.headers)
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert await job_status(app.res, job_id) == "canceled"
    again = await client.post(f"{JOBS}/{job_id}/cancel", headers=admin.headers)
    assert again.status_code == 409 and again.json()["code"] == "JOB_NOT_CANCELABLE"


async def test_a_running_job_cannot_be_canceled(app, client, admin):
    started = asyncio.Event()
    release = asyncio.Event()

    async def busy(ctx, note: Note) -> None:
        started.set()
        await release.wait()

    ep = Entrypoint(unique("busy"), Note, busy)
    (job_id,) = await put(app, ep, Note(key="b"))
    async with running_worker(app.res, ep):
        await asyncio.wait_for(started.wait(), 10)
        response = await client.post(f"{JOBS}/{job_id}/cancel", headers=admin.headers)
        release.set()
    assert response.status_code == 409 and response.json()["code"] == "JOB_NOT_CANCELABLE"
    assert "running" in response.json()["detail"]


async def test_stats_show_depth_and_failures_per_entrypoint(app, client, admin):
    flaky = Flaky()
    ep, _ = await held_job(app, flaky)
    await put(app, ep, Note(key="now"), Note(key="now2"))
    await put(app, ep, Note(key="later"), execute_after=timedelta(hours=1))
    response = await client.get(f"{JOBS}/stats", headers=admin.headers)
    assert response.status_code == 200
    mine = next(e for e in response.json()["entrypoints"] if e["entrypoint"] == ep.name)
    assert mine == {
        "entrypoint": ep.name,
        "ready": 2,
        "scheduled": 1,
        "running": 0,
        "held": 1,
        "succeeded": 0,
        "failed": 1,
        "retried": 0,
        "canceled": 0,
    }


async def test_jobs_enqueued_by_the_api_process_appear_in_its_metrics(app, client):
    ep = Entrypoint(unique("counted"), Note, Flaky())
    await put(app, ep, Note(key=uuid.uuid4().hex), Note(key=uuid.uuid4().hex))
    metrics = (await client.get("/metrics")).text
    assert f'lowcode_jobs_enqueued_total{{entrypoint="{ep.name}"}} 2.0' in metrics
