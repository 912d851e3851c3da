"""`make fuzz`: schemathesis against a real `lowcode serve` on a fresh database.

The run is authenticated as an admin who owns real data (a workspace with a
member and a page with components and revisions), so every operation —
admin ones included — is exercised past its access checks; stateful tests
follow the OpenAPI `links` (created workspace/page ids feed the next calls).
Every check is on (`--checks all`); the run fails on any failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

from lowcode.settings import PROJECT_ROOT
from scripts.benchmarks.harness import scratch_services, start_peers, start_service, wait_ready

PASSWORD = "fuzz-password-1"
RESULTS = PROJECT_ROOT / ".fuzz"  # the service's log and the junit report of the last run
PHASES = "examples,coverage,fuzzing,stateful"


def seed(base: str, env: dict[str, str], email: str) -> str:
    """An admin with a workspace, a member and a page with history; returns a token."""
    with httpx.Client(base_url=base, timeout=30) as c:
        c.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Fuzz"},
        ).raise_for_status()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "lowcode"),
                "users",
                "create-admin",
                email,
                "--promote",
            ],
            env={**os.environ, **env, "LOWCODE_ADMIN_PASSWORD": PASSWORD},
            check=True,
            capture_output=True,
        )
        login = c.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        token = str(login.json()["access_token"])
        h = {"Authorization": f"Bearer {token}"}
        # The spec's examples name these users: let them exist.
        for other in ("grace@example.com", "ada@example.com"):
            c.post(
                "/api/v1/auth/register",
                json={"email": other, "password": PASSWORD, "display_name": "Member"},
            ).raise_for_status()
        ws = c.post("/api/v1/workspaces", headers=h, json={"name": "fuzz"}).json()["id"]
        c.post(
            f"/api/v1/workspaces/{ws}/members", headers=h, json={"email": other, "role": "editor"}
        ).raise_for_status()
        page = c.post(f"/api/v1/workspaces/{ws}/pages", headers=h, json={"title": "fuzz"}).json()
        root = page["schema"]["rootId"]
        for i in range(3):
            c.post(
                f"/api/v1/pages/{page['id']}/patch",
                headers=h,
                json={
                    "baseVersion": page["version"] + i,
                    "opId": f"seed-{i}",
                    "patches": [
                        {"op": "add", "path": f"/components/c{i}",
                         "value": {"id": f"c{i}", "name": "Text", "props": {}, "children": []}},
                        {"op": "add", "path": f"/components/{root}/children/-", "value": f"c{i}"},
                    ],
                },
            ).raise_for_status()  # fmt: skip
    return token


def run(max_examples: int, max_time: int | None, phases: str, extra: list[str]) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="lowcode-fuzz-") as tmp,
        scratch_services(Path(tmp)) as (dsn, redis_url),
    ):
        env = {
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"fuzz:{uuid.uuid4().hex[:6]}:",
            "LOG_LEVEL": "INFO",  # the access log in .fuzz/api.log explains any failure
            "ACCESS_TOKEN_TTL_S": "7200",
            "JWT_SECRET": "fuzz-only-jwt-secret-0123456789abcdef",
            # schemathesis registers and logs in far faster than a person.
            "RATE_LIMIT_LOGIN_IP": "100000/minute",
            "RATE_LIMIT_LOGIN_EMAIL": "100000/minute",
            "RATE_LIMIT_REGISTER_IP": "100000/minute",
            "RATE_LIMIT_REGISTER_EMAIL": "100000/minute",
            "RATE_LIMIT_ADD_MEMBER": "100000/minute",
        }
        RESULTS.mkdir(exist_ok=True)
        log = RESULTS / "api.log"
        # The reference peers, so SQL operations are exercised, not just 503s.
        peers, targets = start_peers(RESULTS / "peers.log")
        env.update(targets)
        server = start_service(env, log)
        try:
            wait_ready(f"{server.base}/health/ready")
            email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
            seed(server.base, env, email)
            cmd = [
                str(Path(sys.executable).parent / "st"),
                "--config-file",
                str(PROJECT_ROOT / "schemathesis.toml"),
                "run",
                f"{server.base}/openapi.json",
                "--checks",
                "all",
                "--phases",
                phases,
                "--max-examples",
                str(max_examples),
                "--report",
                "junit",
                "--report-dir",
                str(RESULTS),
                "--seed",
                os.environ.get("FUZZ_SEED", "1"),
                *(["--max-time", str(max_time)] if max_time else []),
                *extra,
            ]
            fuzz_env = {
                **os.environ,
                "LOWCODE_FUZZ_EMAIL": email,
                "LOWCODE_FUZZ_PASSWORD": PASSWORD,
            }
            result = subprocess.run(cmd, check=False, env=fuzz_env)
            errors = [
                line for line in log.read_text().splitlines()
                if '"level":"ERROR"' in line
            ]  # fmt: skip
            if errors:
                print(f"fuzz: the service logged {len(errors)} errors; first: {errors[0][:2000]}")
            return result.returncode or (1 if errors else 0)
        finally:
            server.stop()
            peers.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--max-time", type=int, default=None, help="seconds for the whole run")
    parser.add_argument("--phases", default=PHASES)
    args, extra = parser.parse_known_args()
    sys.exit(run(args.max_examples, args.max_time, args.phases, extra))


if __name__ == "__main__":
    main()
