from __future__ import annotations

from typing import Any

from connexion import request
from connexion.lifecycle import ConnexionResponse

from lowcode.health.service import readiness
from lowcode.resources import from_request


async def live() -> tuple[dict[str, Any], int]:
    # Answering at all proves the process and its event loop are alive.
    return {"status": "ok"}, 200


async def ready() -> tuple[dict[str, Any], int]:
    ok, checks = await readiness(from_request(request))
    degraded = any(c["status"] != "ok" for c in checks.values())
    status = ("degraded" if degraded else "ok") if ok else "fail"
    return {"status": status, "checks": checks}, 200 if ok else 503


async def metrics() -> ConnexionResponse:
    body = from_request(request).metrics.render()
    return ConnexionResponse(
        status_code=200, body=body, content_type="text/plain; version=0.0.4; charset=utf-8"
    )
