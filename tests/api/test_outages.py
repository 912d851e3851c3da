"""Outages of PostgreSQL and Redis, through a real TCP fault between the
service and each server: 503 problems with Retry-After (never 500, never a
hang), degraded service where it can go on, and recovery without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from lowcode.settings import Settings
from tests.outage import TcpProxy
from tests.support import (
    make_page,
    make_workspace,
    new_password,
    patch_page,
    prop,
    running_app,
    signup,
    unique_email,
)

ACQUIRE_TIMEOUT_S = 1.5


@asynccontextmanager
async def app_through(settings: Settings, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app with `update`: its connections through a proxy, its limits."""
    async with running_app(settings, client_ip="198.51.100.9", **update) as (_, client):
        yield client


async def eventually(check: Any, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.2)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "UNAVAILABLE"
    assert int(response.headers["retry-after"]) >= 1


async def test_postgres_cut_gives_503_problems_then_recovers_without_restart(settings):
    proxy = await TcpProxy.for_url(settings.database_url, 5432).start()
    try:
        async with app_through(
            settings,
            database_url=proxy.url(settings.database_url),
            db_acquire_timeout_s=ACQUIRE_TIMEOUT_S,
            db_connect_timeout_s=ACQUIRE_TIMEOUT_S,
        ) as client:
            owner = await signup(client, "outage")
            workspace = await make_workspace(client, owner)
            url = f"/api/v1/workspaces/{workspace}"
            assert (await client.get(url, headers=owner.headers)).status_code == 200

            proxy.cut()
            for _ in range(3):
                started = time.monotonic()
                response = await client.get(url, headers=owner.headers)
                assert time.monotonic() - started < ACQUIRE_TIMEOUT_S + 1.0
                assert_unavailable(response)
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"]["status"] == "fail"
            login = await client.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": owner.password}
            )
            assert_unavailable(login)

            proxy.restore()

            async def back() -> bool:
                return (await client.get(url, headers=owner.headers)).status_code == 200

            assert await eventually(back), "reads did not recover"
            assert (await client.get("/health/ready")).status_code == 200
    finally:
        await proxy.stop()


async def test_a_hung_postgres_answers_503_within_the_timeouts_not_a_hang(settings):
    # A partition: sockets stay open and nothing comes back. Idle pool
    # connections look alive, so only the command timeout notices.
    proxy = await TcpProxy.for_url(settings.database_url, 5432).start()
    try:
        async with app_through(
            settings,
            database_url=proxy.url(settings.database_url),
            db_acquire_timeout_s=ACQUIRE_TIMEOUT_S,
            db_connect_timeout_s=ACQUIRE_TIMEOUT_S,
            db_command_timeout_s=ACQUIRE_TIMEOUT_S,
        ) as client:
            owner = await signup(client, "hung")
            workspace = await make_workspace(client, owner)
            url = f"/api/v1/workspaces/{workspace}"
            proxy.hang()
            started = time.monotonic()
            response = await client.get(url, headers=owner.headers)
            assert time.monotonic() - started < 2 * ACQUIRE_TIMEOUT_S + 1.0
            assert_unavailable(response)
            proxy.restore()

            async def back() -> bool:
                return (await client.get(url, headers=owner.headers)).status_code == 200

            assert await eventually(back), "reads did not recover"
    finally:
        await proxy.stop()


async def test_redis_cut_degrades_login_and_readiness_then_recovers(settings):
    proxy = await TcpProxy.for_url(settings.redis_url, 6379).start()
    try:
        async with app_through(
            settings,
            redis_url=proxy.url(settings.redis_url),
            rate_limit_login_email="3/minute",
        ) as client:
            owner = await signup(client, "redis-outage")
            proxy.cut()

            login = await client.post(
                "/api/v1/auth/login", json={"email": owner.email, "password": owner.password}
            )
            assert login.status_code == 200, login.text
            token = login.json()["access_token"]
            me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200, me.text
            ready = await client.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded"
            assert ready.json()["checks"]["redis"]["status"] == "degraded"

            # The limits still hold, counted in this process meanwhile (per
            # email, failed attempts only: three allowed, the fourth refused).
            statuses = [
                (
                    await client.post(
                        "/api/v1/auth/login", json={"email": owner.email, "password": "wrong-one"}
                    )
                ).status_code
                for _ in range(4)
            ]
            assert statuses[-1] == 429, statuses

            proxy.restore()

            async def ready_again() -> bool:
                body = (await client.get("/health/ready")).json()
                return bool(body["status"] == "ok")

            assert await eventually(ready_again), "readiness did not recover"
            fresh = unique_email("after")
            created = await client.post(
                "/api/v1/auth/register",
                json={"email": fresh, "password": new_password(), "display_name": "After"},
            )
            assert created.status_code == 201, created.text
    finally:
        await proxy.stop()


async def test_readers_waiting_for_a_page_build_hold_no_pool_connection(settings):
    # A burst of readers of a freshly changed page wait for one build (a Redis
    # lock); they must not park the pool's connections while they wait.
    from redis.asyncio import Redis

    async with app_through(settings, db_pool_min=1, db_pool_max=2) as client:
        owner = await signup(client, "burst")
        workspace = await make_workspace(client, owner)
        page = await make_page(client, owner, workspace)
        patched = await patch_page(
            client, owner, page, prop(page, "a", 1), base_version=1, op_id="burst-1"
        )
        assert patched.status_code == 200, patched.text
        key = settings.redis_key("page", page["id"], "v", "2")
        redis = Redis.from_url(settings.redis_url)
        try:
            await redis.delete(key)
            # Someone else is building version 2 and takes its time.
            assert await redis.set(key + ":build", "other", px=10_000, nx=True)
            readers = [
                asyncio.create_task(
                    client.get(f"/api/v1/pages/{page['id']}", headers=owner.headers)
                )
                for _ in range(4)
            ]
            await asyncio.sleep(0.3)
            started = time.monotonic()
            other = await client.get(f"/api/v1/workspaces/{workspace}", headers=owner.headers)
            assert other.status_code == 200, other.text
            assert time.monotonic() - started < 1.0
            assert [r.status_code for r in await asyncio.gather(*readers)] == [200] * 4
        finally:
            await redis.delete(key + ":build")
            await redis.aclose()
