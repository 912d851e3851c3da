from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from connexion import request
from connexion.lifecycle import ConnexionResponse

from lowcode.health.service import readiness
from lowcode.platform.errors import NotFound
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
    res = from_request(request)
    if not metrics_allowed(
        res.settings.metrics_token.get_secret_value(),
        request.headers.get("authorization"),
        request.client.host if request.client else None,
    ):
        raise NotFound("no such resource")
    body = res.metrics.render()
    return ConnexionResponse(
        status_code=200, body=body, content_type="text/plain; version=0.0.4; charset=utf-8"
    )


def metrics_allowed(token: str, authorization: str | None, client: str | None) -> bool:
    """`/metrics` is not public: with METRICS_TOKEN set, only `Authorization:
    Bearer <METRICS_TOKEN>` reads it; without, only clients on private or
    loopback addresses (Prometheus scraping pods from inside the cluster; the
    client as a trusted proxy names it, so public callers through the ingress
    are refused). Anyone else gets a 404, as for a path that does not exist."""
    if token:
        presented = (authorization or "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(presented.encode(), token.encode())
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    return address.is_private or address.is_loopback
