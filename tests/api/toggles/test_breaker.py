"""A dead legacy backend: routed requests get 503 problems, and after a few
failures the breaker stops trying it at all."""

import httpx
import pytest
from asgi_lifespan import LifespanManager

from lowcode.app import create_app
from tests.lifespan import with_state
from tests.routing_support import dead_url
from tests.support import make_workspace


@pytest.fixture(scope="module")
async def dead_backend_app(settings):
    app = create_app(
        settings.model_copy(
            update={
                "legacy_base_url": dead_url(),
                "legacy_breaker_threshold": 3,
                "legacy_breaker_reset_s": 600,
            }
        )
    )
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=with_state(app), client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield app, c


async def test_the_breaker_opens_on_a_dead_legacy_backend_and_requests_get_503_problems(
    client, dead_backend_app, admin, member
):
    app, http = dead_backend_app
    workspace_id = await make_workspace(client, member, "Dead legacy")
    routes = f"/api/v1/admin/routes/{workspace_id}"
    assert (
        await http.put(routes, headers=admin.headers, json={"legacy_tags": ["pages"]})
    ).status_code == 200
    try:
        answers = [
            await http.get(
                f"/api/v1/workspaces/{workspace_id}/pages",
                headers={**member.headers, "Accept-Language": "zh-CN"},
            )
            for _ in range(6)
        ]
    finally:
        await http.put(routes, headers=admin.headers, json={"legacy_tags": []})
    for response in answers:
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-served-by"] == "lowcode"
        assert response.headers["retry-after"] == "600"
        body = response.json()
        assert body["code"] == "LEGACY_UNAVAILABLE" and body["title"] == "旧版后端不可用"
        assert body["request_id"] == response.headers["x-request-id"]
    assert "cannot be reached" in answers[0].json()["detail"]
    assert "failing" in answers[-1].json()["detail"]

    metrics = app.metrics.render().decode()
    assert 'lowcode_legacy_proxied_total{outcome="unreachable"} 3.0' in metrics
    assert 'lowcode_legacy_proxied_total{outcome="breaker_open"} 3.0' in metrics
    assert "lowcode_legacy_breaker_state 2.0" in metrics
