"""Probes and metrics."""

import uuid

import httpx
from asgi_lifespan import LifespanManager

from lowcode.app import create_app
from lowcode.platform.scratch import create_database, drop_database


async def test_liveness(client):
    response = await client.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readiness_reports_each_check_with_latency(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert set(checks) == {"database", "schema", "redis"}
    assert all(c["status"] == "ok" and c["latency_ms"] >= 0 for c in checks.values())


async def _ready_of(settings) -> httpx.Response:
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/health/ready")


async def test_readiness_fails_when_the_schema_is_behind(settings, pg_admin_dsn):
    empty = await create_database(pg_admin_dsn, "lowcode_unmigrated")
    try:
        response = await _ready_of(settings.model_copy(update={"database_url": empty}))
    finally:
        await drop_database(pg_admin_dsn, empty)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["schema"]["status"] == "fail" and "migrate" in checks["schema"]["error"]
    assert checks["database"]["status"] == "ok"


async def test_readiness_fails_when_redis_is_unreachable(settings, tmp_path):
    dead = f"unix://{tmp_path}/no-redis-{uuid.uuid4().hex[:6]}.sock"
    response = await _ready_of(settings.model_copy(update={"redis_url": dead}))
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "fail"


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
