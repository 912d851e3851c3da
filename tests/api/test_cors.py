"""CORS: only CORS_ALLOW_ORIGINS may call the API from a browser; preflights are
answered and every response to an allowed origin, errors included, carries the headers."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from lowcode.app import create_app
from tests.lifespan import with_state

ALLOWED = "https://app.example.com"


async def cors_app(settings, **update):
    return create_app(settings.model_copy(update={"cors_allow_origins": ALLOWED, **update}))


async def test_preflights_and_errors_carry_cors_headers_for_allowed_origins_only(settings):
    app = await cors_app(settings, http_auth_max_body_bytes=1024)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=with_state(app), client=("203.0.113.50", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            preflight = {
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            }
            ok = await c.options("/api/v1/auth/login", headers={"Origin": ALLOWED, **preflight})
            assert ok.status_code == 200
            assert ok.headers["access-control-allow-origin"] == ALLOWED
            assert "POST" in ok.headers["access-control-allow-methods"]
            assert "authorization" in ok.headers["access-control-allow-headers"].lower()

            evil = await c.options(
                "/api/v1/auth/login", headers={"Origin": "https://evil.example", **preflight}
            )
            assert "access-control-allow-origin" not in evil.headers

            # Errors from every layer carry the headers: Connexion's 404, the
            # body guard's 413, a 401 from security.
            missing = await c.get("/api/v1/nope", headers={"Origin": ALLOWED})
            assert missing.status_code == 404
            assert missing.headers["access-control-allow-origin"] == ALLOWED
            exposed = missing.headers["access-control-expose-headers"].lower()
            for header in ("x-request-id", "etag", "retry-after", "x-served-by"):
                assert header in exposed
            big = await c.post(
                "/api/v1/auth/login",
                content=b"{" + b" " * 4096 + b"}",
                headers={"Origin": ALLOWED, "Content-Type": "application/json"},
            )
            assert big.status_code == 413
            assert big.headers["access-control-allow-origin"] == ALLOWED
            anonymous = await c.get("/api/v1/users/me", headers={"Origin": ALLOWED})
            assert anonymous.status_code == 401
            assert anonymous.headers["access-control-allow-origin"] == ALLOWED

            other = await c.get("/api/v1/nope", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers


async def test_no_origin_is_allowed_by_default(app, client):
    assert app.settings.cors_allow_origins == ""
    preflight = await client.options(
        "/api/v1/auth/login",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    missing = await client.get("/api/v1/nope", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in missing.headers
