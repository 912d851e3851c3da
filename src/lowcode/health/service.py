"""Readiness checks: database ping, every migration applied, Redis ping; and,
reported but not deciding readiness, each gRPC peer's health service.

Each check names its dependency and says `ok`, `fail` or (Redis, unless
READY_REQUIRES_REDIS) `degraded`; the pool reconnects by itself, so readiness
recovers without a restart once the dependency is back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lowcode.platform.grpc import GrpcTarget
from lowcode.platform.migrate import schema_state
from lowcode.resources import Resources

log = logging.getLogger("lowcode.health")

CHECK_TIMEOUT_S = 2.0


class CheckFailed(RuntimeError):
    """A failure described in our own words, safe for the public probe body."""


class SchemaNotCurrent(CheckFailed):
    pass


async def _timed(check: Callable[[], Awaitable[str | None]]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        status, error = "ok", None
    except TimeoutError:
        status, error, detail = "fail", f"timed out after {CHECK_TIMEOUT_S}s", None
    except CheckFailed as e:
        status, error, detail = "fail", str(e), None  # our own words: which migrations
    except Exception as e:
        # The probe is public: the exception's text (hosts, users, paths) goes
        # to the log, the body names only its kind.
        log.warning("readiness check failed", extra={"error": f"{type(e).__name__}: {e}"})
        status, error, detail = "fail", type(e).__name__, None
    result: dict[str, Any] = {
        "status": status,
        "latency_ms": round((time.perf_counter() - start) * 1000, 2),
    }
    if detail:
        result["detail"] = detail
    if error:
        result["error"] = error
    return result


async def readiness(res: Resources) -> tuple[bool, dict[str, Any]]:
    """Run every check concurrently; ready only when all pass and we are not shutting down."""

    async def database() -> str | None:
        async with res.pool.acquire(timeout=CHECK_TIMEOUT_S) as conn:
            await conn.fetchval("SELECT 1")
        return None

    async def schema() -> str | None:
        # Sets, not the newest version: a branch merged with an older migration
        # leaves it pending below the newest applied one.
        async with res.pool.acquire(timeout=CHECK_TIMEOUT_S) as conn:
            state = await schema_state(conn, res.settings.migrations_dir)
        if problem := state.problem():
            raise SchemaNotCurrent(problem)
        return state.newest_applied

    async def redis() -> str | None:
        await res.redis.ping()
        return None

    names = ("database", "schema", "redis")
    results = await asyncio.gather(
        *(_timed(c) for c in (database, schema, redis)), _peer_checks(res)
    )
    checks = dict(zip(names, results[:3], strict=True))
    if checks["redis"]["status"] == "fail" and not res.settings.ready_requires_redis:
        # Redis is a cache and a limiter here: sessions fall back to Postgres,
        # pages to the op log, rate limits to this process. Failing readiness
        # would turn a cache outage into a full one (every pod unready at once).
        checks["redis"]["status"] = "degraded"
    if res.shutting_down.is_set():
        checks["shutdown"] = {"status": "fail", "latency_ms": 0.0, "error": "shutting down"}
    if res.toggles is not None and not res.toggles.loaded:
        # Until the route table is read, requests of routed workspaces would be
        # served here instead of by the legacy backend.
        checks["toggles"] = {
            "status": "fail",
            "latency_ms": 0.0,
            "error": "feature flags and legacy routes not loaded yet",
        }
    ok = all(c["status"] != "fail" for c in checks.values())
    checks.update(results[3])
    return ok, checks


async def _peer_checks(res: Resources) -> dict[str, Any]:
    """A peer that is down degrades the features that use it (they answer 503)
    but must not take the API out of rotation: `required: false`."""

    def check(target: GrpcTarget) -> Callable[[], Awaitable[str | None]]:
        async def run() -> str | None:
            status = await target.health("", timeout_s=CHECK_TIMEOUT_S / 2)
            if status != "SERVING":
                raise CheckFailed(f"health service says {status}")
            return f"breaker {target.breaker_state}"

        return run

    targets = res.peers.all()
    results = await asyncio.gather(*(_timed(check(t)) for t in targets))
    return {
        f"peer:{t.name}": r | {"required": False} for t, r in zip(targets, results, strict=True)
    }
