"""Readiness checks: database ping, schema at the newest migration, Redis ping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lowcode.platform.migrate import applied_version, newest_migration
from lowcode.resources import Resources

CHECK_TIMEOUT_S = 2.0


async def _timed(check: Callable[[], Awaitable[str | None]]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
        status, error = "ok", None
    except TimeoutError:
        status, error, detail = "fail", f"timed out after {CHECK_TIMEOUT_S}s", None
    except Exception as e:
        status, error, detail = "fail", f"{type(e).__name__}: {e}", None
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
        expected = newest_migration(res.settings.migrations_dir)
        async with res.pool.acquire(timeout=CHECK_TIMEOUT_S) as conn:
            applied = await applied_version(conn)
        if applied != expected:
            raise RuntimeError(
                f"schema at {applied}, expected {expected}; run `lowcode migrate up`"
            )
        return applied

    async def redis() -> str | None:
        await res.redis.ping()
        return None

    names = ("database", "schema", "redis")
    results = await asyncio.gather(*(_timed(c) for c in (database, schema, redis)))
    checks = dict(zip(names, results, strict=True))
    if res.shutting_down.is_set():
        checks["shutdown"] = {"status": "fail", "latency_ms": 0.0, "error": "shutting down"}
    ok = all(c["status"] == "ok" for c in checks.values())
    return ok, checks
