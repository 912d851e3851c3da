"""What the lifespan builds and every handler, service and job receives explicitly.

`Resources` is frozen: each process builds its clients (`open_resources`), then
what it holds besides (toggles, local session copies), and only then the
bundle its requests and jobs see. The parts it holds (pools, caches, stores,
tables) exist before it does, so their modules take the clients they use and
never import this one.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import asyncpg
from connexion.lifecycle import ConnexionRequest
from opentelemetry.trace import Tracer
from redis.asyncio import Redis

from lowcode.constraint_errors import CONSTRAINT_ERRORS
from lowcode.datasources.hosts import HostPolicy
from lowcode.datasources.pools import DatasourcePools
from lowcode.datasources.secrets import PasswordBox
from lowcode.identity.local_sessions import LocalSessions
from lowcode.identity.tokens import TokenService
from lowcode.pages.cache import LocalDocuments
from lowcode.platform.cache import create_redis
from lowcode.platform.db import QueryObserver, create_pool, load_queries, pool_stats
from lowcode.platform.grpc import GrpcTarget, TargetPolicy
from lowcode.platform.metrics import Metrics
from lowcode.platform.ratelimit import RateLimiter
from lowcode.platform.table_sync import TableSync
from lowcode.routing.state import Routing
from lowcode.settings import Settings
from lowcode_gen.queries import ROW_TYPES, Queries

if TYPE_CHECKING:
    # For the type only: importing it runs `lowcode.flags`, whose public
    # `evaluate` is a service (it takes `Resources`).
    from lowcode.flags.store import FlagStore

log = logging.getLogger("lowcode.resources")

STATE_RESOURCES = "lowcode.resources"
STATE_OPERATION_SCOPES = "lowcode.operation_scopes"
# The hub's rooms as `LivePages` (pages read an open room's document).
STATE_LIVE_PAGES = "lowcode.live_pages"


@dataclass(frozen=True)
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    queries: Queries
    metrics: Metrics
    tracer: Tracer
    tokens: TokenService
    limiter: RateLimiter
    peers: Peers
    datasource_pools: DatasourcePools
    passwords: PasswordBox
    # Set when SIGTERM arrives (before uvicorn stops accepting) so readiness
    # fails first and load balancers drain this instance.
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)
    # Session state held in this process for a few seconds, evicted on every
    # node through Redis pub/sub (`identity.local_sessions`); None: not held.
    local_sessions: LocalSessions | None = None
    # Documents of page versions read lately, in memory (`pages.cache`).
    page_documents: LocalDocuments | None = None
    # Migration toggles (`lowcode.toggles`): every flag and routed workspace,
    # held in this process and reloaded on every node when one changes.
    flags: FlagStore | None = None
    routing: Routing | None = None
    toggles: TableSync | None = None


@dataclass(frozen=True)
class Peers:
    """The gRPC peers this process calls, one `GrpcTarget` each (opened in the
    lifespan). A new peer is a field here and a line in `open_peers`."""

    calcite: GrpcTarget
    seatunnel: GrpcTarget

    def all(self) -> list[GrpcTarget]:
        return [self.calcite, self.seatunnel]


def grpc_policy(settings: Settings) -> TargetPolicy:
    return TargetPolicy(
        pool_size=settings.grpc_pool_size,
        timeout_s=settings.grpc_timeout_s,
        retry_attempts=settings.grpc_retry_attempts,
        retry_timeout_s=settings.grpc_retry_timeout_s,
        retry_wait_initial_s=settings.grpc_retry_wait_initial_s,
        retry_wait_max_s=settings.grpc_retry_wait_max_s,
        breaker_threshold=settings.grpc_breaker_threshold,
        breaker_reset_s=settings.grpc_breaker_reset_s,
    )


@asynccontextmanager
async def open_peers(settings: Settings, metrics: Metrics, tracer: Tracer) -> AsyncIterator[Peers]:
    """Channels are created here, inside the running loop, and closed on exit;
    they connect on first use, so a peer that is down does not stop start-up."""
    policy = grpc_policy(settings)
    peers = Peers(
        calcite=GrpcTarget(
            "calcite", "the SQL service", settings.calcite_target, policy, metrics, tracer
        ),
        seatunnel=GrpcTarget(
            "seatunnel", "the data-sync service", settings.seatunnel_target, policy, metrics, tracer
        ),
    )
    try:
        yield peers
    finally:
        for target in peers.all():
            await target.close()


def datasource_pools(settings: Settings, metrics: Metrics) -> DatasourcePools:
    return DatasourcePools(
        HostPolicy.parse(settings.datasource_allowed_hosts),
        metrics,
        max_size=settings.datasource_pool_max,
        idle_s=settings.datasource_pool_idle_s,
        connect_timeout_s=settings.datasource_connect_timeout_s,
        statement_timeout_ms=settings.dataset_statement_timeout_ms,
        catalog_ttl_s=settings.datasource_catalog_ttl_s,
    )


class LivePages(Protocol):
    """The documents of the pages being edited in this process (the hub's
    rooms), so a read of a live page needs neither the op log nor the cache.
    Built after `Resources` (the hub uses it), so passed where it is read."""

    def live_document(self, page_id: uuid.UUID) -> tuple[Any, int] | None:
        """(document, version) of an open room; its version is committed."""


@asynccontextmanager
async def open_resources(
    settings: Settings, metrics: Metrics, tracer: Tracer
) -> AsyncIterator[Resources]:
    """Pools and clients for one process (the API, the worker, a CLI command);
    the process adds what it holds besides with `dataclasses.replace`."""
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError(
            "DATABASE_URL and REDIS_URL must be set (`lowcode dev` starts embedded servers)"
        )
    tokens = TokenService(settings)  # fails fast on bad key configuration
    passwords = PasswordBox(settings.datasource_keys)  # likewise
    if settings.encrypts_with_dev_key:
        log.warning("DATASOURCE_KEYS is unset: datasource passwords use the development key")
    pool = await create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        acquire_timeout_s=settings.db_acquire_timeout_s,
        command_timeout_s=settings.db_command_timeout_s,
        connect_timeout_s=settings.db_connect_timeout_s,
        reset_session_state=False,
    )
    redis = create_redis(settings.redis_url, max_connections=settings.redis_pool_max)
    pools = datasource_pools(settings, metrics)
    pools.start()
    try:
        observer = QueryObserver(metrics, tracer, settings.slow_query_ms)
        queries = cast(
            Queries,
            load_queries(
                settings.queries_dir,
                observer=observer,
                row_types=ROW_TYPES,
                constraint_errors=CONSTRAINT_ERRORS,
            ),
        )
        metrics.watch_pool(lambda: pool_stats(pool))
        limiter = RateLimiter(settings.redis_url, settings.redis_key("ratelimit"))
        async with open_peers(settings, metrics, tracer) as peers:
            yield Resources(
                settings,
                pool,
                redis,
                queries,
                metrics,
                tracer,
                tokens,
                limiter,
                peers=peers,
                datasource_pools=pools,
                passwords=passwords,
            )
    finally:
        await pools.close()
        await pool.close()
        await redis.aclose()


def from_request(request: ConnexionRequest) -> Resources:
    """The app's resources, from the lifespan state the server copies into every scope."""
    res = request.scope["state"][STATE_RESOURCES]
    assert isinstance(res, Resources)
    return res


def live_pages_from(request: ConnexionRequest) -> LivePages | None:
    live: LivePages | None = request.scope["state"].get(STATE_LIVE_PAGES)
    return live
