"""Session state held in each process (`identity.local_sessions`): a revocation
on one node ends the session on every node within a second, even though the
other node would otherwise keep serving its in-process copy for much longer.
Two real `lowcode serve` processes on one database and one Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

LOWCODE = str(Path(sys.executable).parent / "lowcode")
ME = "/api/v1/users/me"
# The acceptance bound: a revocation reaches every node within a second.
EVICTION_BOUND_S = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [LOWCODE, "serve"],
            env={**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log.read_text()[-2000:]
                try:
                    if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


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
        _serve(env, tmp_path / "a.log") as a,
        _serve(env, tmp_path / "b.log") as b,
        redis.Redis.from_url(redis_url) as r,
    ):
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
