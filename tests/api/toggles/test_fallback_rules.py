"""The fallback's rules, one by one: the legacy router in front of a tiny ASGI
app that answers as a failing handler would (after Connexion matched the
operation), replaying to the real legacy server in its own process."""

import json

import httpx
import pytest
import yaml
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from lowcode.routing.legacy import LegacyBackend
from lowcode.routing.metrics import LegacyMetrics
from lowcode.routing.middleware import LegacyRouter
from lowcode.routing.operations import OperationIndex
from lowcode.routing.state import Routing
from lowcode.routing.table import RouteTable
from tests.routing_support import legacy_server

PAGE = "/api/v1/pages/7b0c6a7e-5a9e-4d55-9d0e-6f0f3c1f2a11"


@pytest.fixture(scope="module")
def legacy():
    with legacy_server() as server:
        yield server


def failing_app(operation_id: str, *, status: int = 500, after_start: bool = False):
    """Reads the whole body, then fails: with `status`, or by raising (after a
    first response byte when `after_start`)."""

    async def app(scope, receive, send):
        scope["extensions"]["connexion_routing"] = {"operation_id": operation_id}
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            raise ConnectionResetError("database connection lost mid-response")
        if status == 0:
            raise ConnectionRefusedError("database is down")
        body = b'{"code":"INTERNAL_ERROR"}'
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"x-ours", b"1")]}
        )
        await send({"type": "http.response.body", "body": body})

    return app


def make_router(settings, legacy, tracer=None):
    spec = yaml.safe_load(settings.openapi_file.read_text())
    configured = settings.model_copy(
        update={"legacy_base_url": legacy.url, "legacy_replay_max_bytes": 1000}
    )
    backend = LegacyBackend(configured, LegacyMetrics(CollectorRegistry()), tracer)
    routing = Routing(OperationIndex(spec), RouteTable(), None, backend)  # type: ignore[arg-type]

    def build(inner):
        async def with_extensions(scope, receive, send):
            scope.setdefault("extensions", {})
            await LegacyRouter(inner, lambda: routing)(scope, receive, send)

        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=with_extensions, raise_app_exceptions=False),
            base_url="http://t",
        )

    return build, legacy


@pytest.fixture
def router(settings, legacy):
    return make_router(settings, legacy)


async def _seen(legacy, method, path) -> bool:
    return {"method": method, "path": path} in legacy.requests_seen()


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
async def test_a_5xx_of_a_safe_or_idempotent_method_is_replayed(router, method):
    build, legacy = router
    path = f"{PAGE}/{method.lower()}"
    async with build(failing_app("getPage", status=503)) as c:
        response = await c.request(method, path, content=b'{"a":1}' if method == "PUT" else None)
    assert response.status_code == 200 and response.headers["x-served-by"] == "legacy"
    assert "x-ours" not in response.headers
    assert await _seen(legacy, method, path)


async def test_an_exception_before_any_byte_is_replayed_too(router):
    build, _legacy = router
    async with build(failing_app("getPage", status=0)) as c:
        response = await c.get(f"{PAGE}/raised")
    assert response.headers["x-served-by"] == "legacy"


async def test_a_plain_post_is_never_replayed(router):
    build, legacy = router
    async with build(failing_app("createPage")) as c:
        response = await c.post(f"{PAGE}/plain", json={"title": "once"})
    assert response.status_code == 500 and response.headers["x-served-by"] == "lowcode"
    assert response.headers["x-ours"] == "1"
    assert not await _seen(legacy, "POST", f"{PAGE}/plain")


async def test_a_post_with_an_idempotency_key_is_replayed_with_its_body(router):
    build, _legacy = router
    body = {"opId": "op-7", "baseVersion": 3, "patches": []}
    async with build(failing_app("patchPage")) as c:
        by_body = await c.post(f"{PAGE}/keyed", json=body)
        by_header = await c.post(
            f"{PAGE}/header", content=b"not json", headers={"Idempotency-Key": "k-1"}
        )
    assert by_body.headers["x-served-by"] == "legacy"
    assert json.loads(by_body.json()["body"]) == body
    assert by_header.headers["x-served-by"] == "legacy"
    assert by_header.json()["body"] == "not json"


async def test_nothing_is_replayed_once_the_response_has_started(router):
    build, legacy = router
    async with build(failing_app("getPage", after_start=True)) as c:
        response = await c.get(f"{PAGE}/started")
    assert response.headers["x-served-by"] == "lowcode"
    assert not await _seen(legacy, "GET", f"{PAGE}/started")


async def test_a_body_over_the_replay_limit_is_not_replayed(router):
    build, legacy = router
    async with build(failing_app("replaceSchema")) as c:
        response = await c.put(f"{PAGE}/big", content=b"x" * 1001)
    assert response.status_code == 500 and response.headers["x-served-by"] == "lowcode"
    assert not await _seen(legacy, "PUT", f"{PAGE}/big")


@pytest.mark.parametrize("operation_id", ["ready", "listJobs", "putFlag", "evaluateFlag"])
async def test_operations_about_this_service_itself_are_never_replayed(router, operation_id):
    build, legacy = router
    async with build(failing_app(operation_id, status=503)) as c:
        response = await c.get(f"/x/{operation_id}")
    assert response.status_code == 503 and response.headers["x-served-by"] == "lowcode"
    assert not await _seen(legacy, "GET", f"/x/{operation_id}")


async def test_a_4xx_is_ours_to_give(router):
    build, _legacy = router
    async with build(failing_app("getPage", status=404)) as c:
        response = await c.get(f"{PAGE}/missing")
    assert response.status_code == 404 and response.headers["x-served-by"] == "lowcode"


async def test_a_replay_is_a_client_span_and_the_legacy_backend_joins_its_trace(settings, legacy):
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    build, _ = make_router(settings, legacy, provider.get_tracer("test"))
    async with build(failing_app("getPage", status=500)) as c:
        response = await c.get(f"{PAGE}/traced")
    (span,) = [s for s in spans.get_finished_spans() if s.name == "legacy GET"]
    assert span.attributes["lowcode.legacy.kind"] == "fallback"
    assert span.attributes["http.response.status_code"] == 200
    sent = {k.lower(): v for k, v in response.json()["headers"]}
    ctx = span.get_span_context()
    assert sent["traceparent"].startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")
