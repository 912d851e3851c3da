"""Probes and metrics."""

import uuid

from lowcode.platform.scratch import create_database, drop_database
from tests.lifespan import with_state
from tests.support import readiness


async def test_liveness(client):
    response = await client.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readiness_reports_each_check_with_latency(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert set(checks) == {"database", "schema", "redis", "peer:calcite", "peer:seatunnel"}
    assert all(c["status"] == "ok" and c["latency_ms"] >= 0 for c in checks.values())
    assert checks["peer:calcite"]["required"] is False  # reported, never deciding readiness
    assert checks["peer:seatunnel"]["required"] is False


async def test_readiness_fails_when_the_schema_is_behind(settings, pg_admin_dsn):
    empty = await create_database(pg_admin_dsn, "lowcode_unmigrated")
    try:
        response = await readiness(settings.model_copy(update={"database_url": empty}))
    finally:
        await drop_database(pg_admin_dsn, empty)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["schema"]["status"] == "fail" and "migrate" in checks["schema"]["error"]
    assert checks["database"]["status"] == "ok"


async def test_readiness_fails_when_redis_is_unreachable_and_required(settings, tmp_path):
    dead = f"unix://{tmp_path}/no-redis-{uuid.uuid4().hex[:6]}.sock"
    response = await readiness(
        settings.model_copy(update={"redis_url": dead, "ready_requires_redis": True})
    )
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "fail"


async def test_readiness_is_degraded_not_failed_when_redis_is_unreachable(settings, tmp_path):
    dead = f"unix://{tmp_path}/no-redis-{uuid.uuid4().hex[:6]}.sock"
    response = await readiness(settings.model_copy(update={"redis_url": dead}))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "degraded" and body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


async def test_readiness_fails_as_soon_as_shutdown_begins(app, client):
    app.res.shutting_down.set()
    try:
        response = await client.get("/health/ready")
    finally:
        app.res.shutting_down.clear()
    assert response.status_code == 503
    assert response.json()["checks"]["shutdown"]["status"] == "fail"


async def test_metrics_label_requests_by_route_template(client):
    await client.post("/api/v1/auth/register", json={})
    await client.get("/api/v1/pages/123e4567-e89b-12d3-a456-426614174000")
    text = (await client.get("/metrics")).text
    assert (
        'lowcode_http_requests_total{method="POST",route="/api/v1/auth/register",status="400"}'
        in text
    )
    assert 'route="<unmatched>"' in text
    assert "426614174000" not in text
    assert 'lowcode_db_pool_connections{state="size"}' in text
    assert 'lowcode_db_query_duration_seconds_bucket{le="0.001",query="identity' in text or (
        "lowcode_db_query_duration_seconds" in text
    )


async def test_readiness_never_shows_raw_error_text(settings, tmp_path):
    dead = f"unix://{tmp_path}/secret-host-{uuid.uuid4().hex[:6]}.sock"
    response = await readiness(settings.model_copy(update={"redis_url": dead}))
    error = response.json()["checks"]["redis"]["error"]
    assert "secret-host" not in response.text and tmp_path.name not in response.text
    assert error.isidentifier()  # the kind of failure only, e.g. ConnectionError


async def test_metrics_are_not_served_to_public_addresses(settings):
    import httpx
    from asgi_lifespan import LifespanManager
    from pydantic import SecretStr

    from lowcode.app import create_app

    token = "metrics-" + uuid.uuid4().hex
    for configured in ("", token):
        app = create_app(settings.model_copy(update={"metrics_token": SecretStr(configured)}))
        async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):

            async def scrape(ip: str, headers=None):
                transport = httpx.ASGITransport(app=with_state(app), client=(ip, 4000))
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    return await c.get("/metrics", headers=headers or {})

            public = await scrape("8.8.8.8")
            assert public.status_code == 404 and "lowcode_" not in public.text
            inside = await scrape("10.1.2.3")
            if configured:
                assert inside.status_code == 404
                wrong = await scrape("8.8.8.8", {"Authorization": "Bearer nope"})
                assert wrong.status_code == 404
                good = await scrape("8.8.8.8", {"Authorization": f"Bearer {token}"})
                assert good.status_code == 200 and "lowcode_" in good.text
            else:
                assert inside.status_code == 200 and "lowcode_" in inside.text
