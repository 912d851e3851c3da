"""What the lifespan builds and every handler, service and job receives explicitly."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
from connexion.lifecycle import ConnexionRequest
from opentelemetry.trace import Tracer
from redis.asyncio import Redis

from lowcode.platform.metrics import Metrics
from lowcode.settings import Settings
from lowcode_gen.queries import Queries

STATE_RESOURCES = "lowcode.resources"


@dataclass
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    queries: Queries
    metrics: Metrics
    tracer: Tracer
    # Set when SIGTERM arrives (before uvicorn stops accepting) so readiness
    # fails first and load balancers drain this instance.
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)


def from_request(request: ConnexionRequest) -> Resources:
    """The app's resources, as the scope-type dispatcher put them on every request."""
    res = request.scope["state"][STATE_RESOURCES]
    assert isinstance(res, Resources)
    return res
