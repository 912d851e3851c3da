"""`create_app(settings)`: the whole ASGI application.

    proxy headers ─► OpenTelemetry ─► access log ─► CORS ─► legacy router ─► body guard ─►
        admission ─► dispatcher ─┐
        ┌────────────────────────┘
        ├─ websocket ─► Starlette Router
        ├─ refused bodies, OPTIONS, wrong methods (answered here)
        └─ http, lifespan ─► Connexion

The legacy router (`routing/middleware.py`) proxies routed workspaces to the
legacy backend and replays our failures there; it is a pass-through adding
`X-Served-By` when nothing is routed. Admission (`platform/admission.py`)
bounds the requests running at once so overload queues fairly.

Proxy headers (uvicorn's middleware, `FORWARDED_ALLOW_IPS`) come first, so the
client address every layer sees (spans, the access log, rate limits) is the
one a trusted proxy vouched for. CORS (`CORS_ALLOW_ORIGINS`) sits inside the
access log, which logs preflights too, and outside everything that answers:
404s, the body guard's and admission's refusals and legacy responses all carry
its headers.

Connexion gets every non-WebSocket scope, so its lifespan (which builds the
pool, Redis and queries) runs; mounting Connexion inside Starlette would skip
it. Nothing is built at import time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.jsonifier import Jsonifier
from connexion.options import SwaggerUIOptions
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import TracerProvider as ApiTracerProvider
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from lowcode.collab.hub import Hub
from lowcode.collab.ws import STATE_HUB, page_socket
from lowcode.events.bus import EventBus
from lowcode.events.ws import STATE_EVENTS, events_socket
from lowcode.identity.local_sessions import held_sessions
from lowcode.pages.cache import LocalDocuments
from lowcode.platform import jsoncodec, prepared, problems
from lowcode.platform.access_log import AccessLogMiddleware
from lowcode.platform.admission import AdmissionGate
from lowcode.platform.body_guard import STATE_REJECTION, BodyGuard, BodyLimits, Rejection
from lowcode.platform.contracts import load_yaml
from lowcode.platform.documents import Documents
from lowcode.platform.errors import AppError
from lowcode.platform.i18n import preferred_language
from lowcode.platform.methods import MethodIndex
from lowcode.platform.metrics import Metrics
from lowcode.platform.prepared import PreparedAsyncApp
from lowcode.platform.proxies import TrustedProxies
from lowcode.platform.resolver import HandlerResolver
from lowcode.platform.telemetry import create_tracer_provider, instrument_asyncpg
from lowcode.platform.trace_redaction import HideSecretsFromTracing, RestoreQuery
from lowcode.platform.validation import VALIDATORS
from lowcode.resources import (
    STATE_OPERATION_SCOPES,
    STATE_RESOURCES,
    Resources,
    open_resources,
)
from lowcode.routing.middleware import LegacyRouter
from lowcode.routing.operations import OperationIndex
from lowcode.routing.state import Routing
from lowcode.settings import Settings
from lowcode.toggles import running_toggles

log = logging.getLogger("lowcode.app")

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
# What a browser on an allowed origin may send, and read, cross-origin.
CORS_ALLOW_HEADERS = [
    "Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID",
    "Accept-Language",
]  # fmt: skip
CORS_EXPOSE_HEADERS = ["X-Request-ID", "ETag", "Retry-After", "X-Served-By", "Location"]


@dataclass
class LowcodeApp:
    """The ASGI callable plus handles tests and the CLI need."""

    settings: Settings
    metrics: Metrics
    tracer_provider: ApiTracerProvider
    connexion: AsyncApp
    ws_router: ASGIApp
    operation_scopes: dict[str, frozenset[str]]
    methods: MethodIndex
    asgi: ASGIApp = field(init=False)
    res: Resources | None = None
    hub: Hub | None = None
    events: EventBus | None = None
    routing: Routing | None = None
    documents: Documents | None = None

    async def begin_shutdown(self) -> None:
        """SIGTERM: readiness fails, rooms snapshot and close their sockets (1012)."""
        if self.res is not None:
            self.res.shutting_down.set()
        if self.hub is not None:
            await self.hub.shutdown()
        if self.events is not None:
            await self.events.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            state[STATE_RESOURCES] = self.res
            state[STATE_OPERATION_SCOPES] = self.operation_scopes
            state[STATE_HUB] = self.hub
            state[STATE_EVENTS] = self.events
        if scope["type"] == "websocket":
            await self.ws_router(scope, receive, send)
            return
        if scope["type"] == "http" and await self._answered_at_the_edge(scope, send):
            return
        if scope["type"] == "http" and self.documents and await self.documents.serve(scope, send):
            return
        await self.connexion(scope, receive, send)

    async def _answered_at_the_edge(self, scope: Scope, send: Send) -> bool:
        """A body the guard refused, `OPTIONS` on a spec path, or a method the
        path does not have: answered here."""
        rejection = scope["state"].get(STATE_REJECTION)
        if isinstance(rejection, Rejection):
            language = preferred_language(_header(scope, b"accept-language"))
            await problems.send_problem(
                send,
                code=rejection.code,
                status=rejection.status,
                detail=rejection.detail,
                language=language,
                headers={"Connection": "close"},
            )
            return True
        allow = self.methods.allow(scope["path"])
        if allow is None or (scope["method"] in allow and scope["method"] != "OPTIONS"):
            return False
        if scope["method"] == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [(b"allow", ", ".join(allow).encode())],
                }
            )
            await send({"type": "http.response.body", "body": b""})
        else:
            # Decided here, by the most specific spec path: Connexion's router
            # would try `/users/{user_id}` for `DELETE /users/me` and answer 400,
            # and its 405s list only the methods of the first route it tried.
            await problems.send_problem(
                send,
                code="METHOD_NOT_ALLOWED",
                status=405,
                detail=f"{scope['method']} is not allowed here",
                language=preferred_language(_header(scope, b"accept-language")),
                headers={"Allow": ", ".join(allow)},
            )
        return True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def route_templates(spec: dict[str, Any]) -> dict[str, str]:
    """operationId → path template, the label HTTP metrics use instead of raw paths."""
    return {
        op["operationId"]: path
        for path, item in spec.get("paths", {}).items()
        for method, op in item.items()
        if method in HTTP_METHODS and "operationId" in op
    }


def operation_scopes(spec: dict[str, Any]) -> dict[str, frozenset[str]]:
    """operationId → the scopes (global roles) its bearerAuth requirement lists.

    Connexion hands required scopes only to OAuth2 handlers, not to HTTP bearer
    ones, so the security handler looks them up here by the routed operation.
    """
    root = spec.get("security", [])
    result: dict[str, frozenset[str]] = {}
    for item in spec.get("paths", {}).values():
        for method, op in item.items():
            if method in HTTP_METHODS and "operationId" in op:
                requirements = op.get("security", root)
                scopes = {s for req in requirements for s in req.get("bearerAuth", [])}
                result[op["operationId"]] = frozenset(scopes)
    return result


def create_app(
    settings: Settings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
) -> LowcodeApp:
    settings = settings or Settings()
    metrics = Metrics()
    tracer_provider = create_tracer_provider(exporter=span_exporter)
    tracer = tracer_provider.get_tracer("lowcode")
    spec = load_yaml(settings.openapi_file)
    templates = route_templates(spec)
    operations = OperationIndex(spec)

    # Copied before Connexion resolves (and adds to) the spec it is given.
    documents = Documents(spec, settings.asyncapi_file)
    holder: dict[str, LowcodeApp] = {}

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        app = holder["app"]
        instrument_asyncpg(tracer_provider)
        async with (
            open_resources(settings, metrics, tracer) as res,
            running_toggles(res, operations) as routing,
            held_sessions(res),
        ):
            app.res = res
            app.routing = routing
            if settings.page_local_cache_bytes > 0:
                res.page_documents = LocalDocuments(settings.page_local_cache_bytes)
            app.hub = Hub(res)
            res.live_pages = app.hub
            await app.hub.start()
            app.events = EventBus(res, app.hub)
            await app.events.start()
            log.info("started", extra={"port": settings.port})
            try:
                yield
            finally:
                await app.begin_shutdown()
        if isinstance(tracer_provider, TracerProvider):
            tracer_provider.shutdown()
        log.info("stopped")

    # Connexion's stack with its per-operation work done once (`platform.prepared`).
    cx = PreparedAsyncApp(
        __name__,
        lifespan=lifespan,
        middlewares=prepared.middlewares(),
        security_map=prepared.SECURITY_MAP,
        jsonifier=Jsonifier(jsoncodec),
        # The spec is served as written (platform/documents.py), not Connexion's
        # dereferenced copy; Swagger UI reads it from the same path.
        swagger_ui_options=SwaggerUIOptions(
            swagger_ui_path="/docs",
            spec_path="/openapi.json",
            serve_spec=False,
            swagger_ui_config={"persistAuthorization": True},
        ),
    )
    cx.add_api(
        spec,
        validate_responses=settings.validate_responses,
        strict_validation=True,
        validator_map=VALIDATORS,
        resolver=HandlerResolver(),
    )
    cx.add_error_handler(AppError, problems.handle_app_error)
    cx.add_error_handler(ProblemException, problems.handle_connexion_problem)
    cx.add_error_handler(HTTPException, problems.handle_http_exception)
    cx.add_error_handler(Exception, problems.handle_unexpected)

    app = LowcodeApp(
        settings,
        metrics,
        tracer_provider,
        cx,
        # Sockets refuse by raising WebSocketException(code, reason): this
        # turns it into the close (a handshake refused before accept, a close
        # frame after).
        ExceptionMiddleware(
            Router(
                routes=[
                    WebSocketRoute("/ws/pages/{page_id}", page_socket),
                    WebSocketRoute("/ws/events", events_socket),
                ]
            )
        ),
        operation_scopes(spec),
        MethodIndex(spec),
    )
    holder["app"] = app
    app.documents = documents
    admitted = AdmissionGate(
        app.dispatch,
        max_in_flight=settings.http_max_in_flight,
        queue_timeout_s=settings.http_queue_timeout_s,
        retry_after_s=settings.unavailable_retry_after_s,
    )
    # The guard sits behind the legacy router: routed requests stream to the
    # legacy backend as they arrive; everything served here is read whole,
    # within its cap and deadline, before it is parsed or admitted.
    guarded = BodyGuard(
        admitted,
        BodyLimits(
            default=settings.http_max_body_bytes,
            auth=settings.http_auth_max_body_bytes,
            page=settings.page_max_bytes + settings.http_page_body_slack_bytes,
            sql=settings.http_sql_max_body_bytes,
            read_timeout_s=settings.http_body_timeout_s,
        ),
    )
    legacy: ASGIApp = LegacyRouter(guarded, lambda: app.routing)
    if settings.cors_origins:
        legacy = CORSMiddleware(
            legacy,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
            max_age=600,
        )
    access = AccessLogMiddleware(
        legacy,
        metrics=metrics,
        route_for=lambda op: templates.get(op or "", "<unmatched>"),
        body_limit=settings.access_log_body_limit,
    )
    # Without an exporter the middleware would only build spans nobody sees.
    traced: ASGIApp = (
        HideSecretsFromTracing(
            OpenTelemetryMiddleware(RestoreQuery(access), tracer_provider=tracer_provider)
        )
        if isinstance(tracer_provider, TracerProvider)
        else access
    )
    trusted = settings.forwarded_allow_list
    app.asgi = TrustedProxies(traced, trusted) if trusted else traced
    return app
