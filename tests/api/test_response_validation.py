"""With VALIDATE_RESPONSES=true a response that breaks the spec is a 500 whose
`detail` says why, so a failing test shows the reason, not a bare INTERNAL_ERROR."""

import asyncio

import httpx
import yaml
from asgi_lifespan import LifespanManager

from lowcode.app import create_app
from lowcode.settings import PROJECT_ROOT
from tests.lifespan import with_state


async def test_the_500_problem_carries_the_validation_reason(settings, tmp_path):
    spec = yaml.safe_load((PROJECT_ROOT / "api/openapi/openapi.yaml").read_text())
    liveness = spec["components"]["schemas"]["Liveness"]
    liveness["required"] = ["status", "uptime_s"]  # the handler does not send it
    liveness["properties"]["uptime_s"] = {"type": "number"}
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(spec))
    app = create_app(settings.model_copy(update={"openapi_file": path}))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=with_state(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            response = await c.get("/health/live")
        # Stopping while the event bus is still subscribing hangs its shutdown
        # (redis-py's pubsub close during connect; see the closing note of issue 18).
        await asyncio.wait_for(app.events.subscribed.wait(), 10)  # type: ignore[union-attr]
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "INTERNAL_ERROR"
    assert "'uptime_s' is a required property" in body["detail"]
