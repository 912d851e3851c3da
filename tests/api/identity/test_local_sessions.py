"""Session state held in each process (`identity.local_sessions`): a revocation
on one node ends the session on every node within a second, even though the
other node would otherwise keep serving its in-process copy for much longer.
Two real `lowcode serve` processes on one database and one Redis."""

from __future__ import annotations

import time
import uuid

import httpx
import redis

from tests.processes import serving

ME = "/api/v1/users/me"
# The acceptance bound: a revocation reaches every node within a second.
EVICTION_BOUND_S = 1.0


def test_a_logout_on_one_node_ends_the_session_on_the_other_within_a_second(
    database_url, redis_url, tmp_path
):
    prefix = f"lctest:{uuid.uuid4().hex[:8]}:"
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        # Long enough that only the eviction can end it within the test.
        "SESSION_LOCAL_TTL_S": "60",
        "LOG_LEVEL": "WARNING",
    }
    with (
        serving(env, tmp_path / "a.log", timeout_s=60) as node_a,
        serving(env, tmp_path / "b.log", timeout_s=60) as node_b,
        redis.Redis.from_url(redis_url) as r,
    ):
        a, b = node_a.http, node_b.http
        email = f"two-{uuid.uuid4().hex[:8]}@example.com"
        password = "correct horse battery"
        registered = httpx.post(
            f"{a}/api/v1/auth/register",
            json={"email": email, "password": password, "display_name": "Two"},
        )
        assert registered.status_code == 201, registered.text
        tokens = httpx.post(
            f"{a}/api/v1/auth/login", json={"email": email, "password": password}
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        for node in (a, b):
            assert httpx.get(f"{node}{ME}", headers=headers).status_code == 200

        # B now answers from its own memory: with the shared Redis entry gone
        # (and Postgres still saying "active") nothing else could tell it more.
        session_keys = r.keys(f"{prefix}session:*")
        assert session_keys
        r.delete(*session_keys)
        assert httpx.get(f"{b}{ME}", headers=headers).status_code == 200

        logout = httpx.post(
            f"{a}/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        )
        assert logout.status_code == 204
        deadline = time.monotonic() + EVICTION_BOUND_S
        while True:
            answer = httpx.get(f"{b}{ME}", headers=headers)
            if answer.status_code == 401:
                break
            assert answer.status_code == 200
            assert time.monotonic() < deadline, "node B still serves the revoked session"
            time.sleep(0.02)
        assert answer.json()["code"] == "SESSION_REVOKED"
        assert httpx.get(f"{a}{ME}", headers=headers).status_code == 401
