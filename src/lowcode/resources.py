"""What the lifespan builds and every handler, service and job receives explicitly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import asyncpg
from connexion.lifecycle import ConnexionRequest
from opentelemetry.trace import Tracer
from redis.asyncio import Redis

from lowcode.platform.cache import create_redis
from lowcode.platform.db import QueryObserver, create_pool, load_queries, pool_stats
from lowcode.platform.metrics import Metrics
from lowcode.platform.ratelimit import RateLimiter
from lowcode.settings import Settings
from lowcode_gen.queries import ROW_TYPES, Queries

if TYPE_CHECKING:
    from lowcode.identity.tokens import TokenService

STATE_RESOURCES = "lowcode.resources"
STATE_OPERATION_SCOPES = "lowcode.operation_scopes"


@dataclass
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    queries: Queries
    metrics: Metrics
    tracer: Tracer
    tokens: TokenService
    limiter: RateLimiter
    # Set when SIGTERM arrives (before uvicorn stops accepting) so readiness
    # fails first and load balancers drain this instance.
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)
    # The documents of the pages being edited in this process (the hub's rooms),
    # so a read of a live page needs neither the op log nor the cache.
    live_pages: LivePages | None = None


class LivePages(Protocol):
    def live_document(self, page_id: uuid.UUID) -> tuple[Any, int] | None:
        """(document, version) of an open room; its version is committed."""


@asynccontextmanager
async def open_resources(
    settings: Settings, metrics: Metrics, tracer: Tracer
) -> AsyncIterator[Resources]:
    """Pools and clients for one process (the API, a CLI command, later the worker)."""
    from lowcode.identity.tokens import TokenService

    if not settings.database_url or not settings.redis_url:
        raise RuntimeError(
            "DATABASE_URL and REDIS_URL must be set (`lowcode dev` starts embedded servers)"
        )
    tokens = TokenService(settings)  # fails fast on bad key configuration
    pool = await create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )
    redis = create_redis(settings.redis_url, max_connections=settings.redis_pool_max)
    try:
        observer = QueryObserver(metrics, tracer, settings.slow_query_ms)
        queries = cast(
            Queries, load_queries(settings.queries_dir, observer=observer, row_types=ROW_TYPES)
        )
        metrics.watch_pool(lambda: pool_stats(pool))
        limiter = RateLimiter(settings.redis_url, settings.redis_key("ratelimit"))
        yield Resources(settings, pool, redis, queries, metrics, tracer, tokens, limiter)
    finally:
        await pool.close()
        await redis.aclose()


def from_request(request: ConnexionRequest) -> Resources:
    """The app's resources, as the scope-type dispatcher put them on every request."""
    res = request.scope["state"][STATE_RESOURCES]
    assert isinstance(res, Resources)
    return res
