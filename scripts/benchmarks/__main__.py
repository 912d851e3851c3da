"""`make bench`: each case runs our service and its baseline in the same run, on
the same machine and database, and reports the ratio.

Cases so far:
  rest-read  GET /api/v1/pages/{id}, authenticated, 64 connections, one worker,
             vs raw Starlette + asyncpg running the same query and JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

from lowcode.platform.migrate import run_dbmate
from lowcode.platform.scratch import (
    create_database,
    drop_database,
    postgres_server,
    redis_server,
)
from lowcode.settings import PROJECT_ROOT
from scripts.benchmarks.harness import WrkResult, free_port, start, uvicorn_cmd, wait_ready, wrk

RESULTS = PROJECT_ROOT / ".bench"


def seed(base: str, components: int) -> tuple[str, str, str]:
    """A user, a workspace and a page of `components` components; returns
    (access token, user id, page id)."""
    with httpx.Client(base_url=base, timeout=30) as c:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        user = c.post(
            "/api/v1/auth/register",
            json={"email": email, "password": "bench-password", "display_name": "Bench"},
        ).json()
        tokens = c.post(
            "/api/v1/auth/login", json={"email": email, "password": "bench-password"}
        ).json()
        h = {"Authorization": f"Bearer {tokens['access_token']}"}
        ws = c.post("/api/v1/workspaces", headers=h, json={"name": "bench"}).json()["id"]
        page = c.post(f"/api/v1/workspaces/{ws}/pages", headers=h, json={"title": "bench"}).json()
        root = page["schema"]["rootId"]
        doc = page["schema"]
        for i in range(components):
            cid = f"c{i}"
            doc["components"][cid] = {
                "id": cid,
                "name": "Chart",
                "children": [],
                "props": {"title": f"Chart {i}", "query": "SELECT 1", "w": 6},
            }
            doc["components"][root]["children"].append(cid)
        r = c.put(
            f"/api/v1/pages/{page['id']}/schema",
            headers={**h, "If-Match": '"1"'},
            json={"schema": doc},
        )
        r.raise_for_status()
        return tokens["access_token"], user["id"], page["id"]


def fmt(name: str, r: WrkResult) -> str:
    return (
        f"  {name:<22} {r.rps:>9.0f} req/s   p50 {r.p50_ms:>7.2f} ms   "
        f"p99 {r.p99_ms:>7.2f} ms   errors {r.errors}"
    )


async def _create(admin: str) -> str:
    return await create_database(admin, "lowcode_bench")


def rest_read(work: Path, seconds: int, connections: int) -> dict[str, object]:
    with postgres_server(work) as admin, redis_server(work) as redis_url:
        dsn = asyncio.run(_create(admin))
        try:
            run_dbmate(dsn, PROJECT_ROOT / "migrations", "up")
            env = {
                "DATABASE_URL": dsn,
                "REDIS_URL": redis_url,
                "REDIS_KEY_PREFIX": f"bench:{uuid.uuid4().hex[:6]}:",
                "LOG_LEVEL": "INFO",
                "RATE_LIMIT_REGISTER_IP": "1000/minute",
            }
            port = free_port()
            ours = start(
                [str(Path(sys.executable).parent / "lowcode"), "serve"],
                {**env, "PORT": str(port), "HOST": "127.0.0.1"},
                work / "api.log",
                port,
            )
            try:
                cold_start = wait_ready(f"{ours.base}/health/ready")
                token, user_id, page_id = seed(ours.base, components=40)
                size = len(
                    httpx.get(
                        f"{ours.base}/api/v1/pages/{page_id}",
                        headers={"Authorization": f"Bearer {token}"},
                    ).content
                )
                h = {"Authorization": f"Bearer {token}"}
                wrk(
                    f"{ours.base}/api/v1/pages/{page_id}",
                    connections=connections,
                    seconds=2,
                    headers=h,
                )
                service = wrk(
                    f"{ours.base}/api/v1/pages/{page_id}",
                    connections=connections,
                    seconds=seconds,
                    headers=h,
                )
            finally:
                ours.stop()
            bport = free_port()
            base = start(
                uvicorn_cmd("scripts.benchmarks.baseline_app:app", bport),
                {**env, "BENCH_USER_ID": user_id},
                work / "baseline.log",
                bport,
            )
            try:
                wait_ready(f"{base.base}/pages/{page_id}")
                wrk(f"{base.base}/pages/{page_id}", connections=connections, seconds=2, headers={})
                baseline = wrk(
                    f"{base.base}/pages/{page_id}",
                    connections=connections,
                    seconds=seconds,
                    headers={},
                )
            finally:
                base.stop()
        finally:
            asyncio.run(drop_database(admin, dsn))
    ratio = service.rps / baseline.rps
    print(
        f"rest-read: GET /api/v1/pages/{{id}} ({size} B body), {connections} connections, "
        f"1 worker, {seconds}s"
    )
    print(fmt("lowcode (full stack)", service))
    print(fmt("starlette+asyncpg", baseline))
    print(
        f"  ratio {ratio:.2f} of baseline (target >= 0.60); cold start to ready {cold_start:.2f}s"
    )
    return {
        "service": service.__dict__,
        "baseline": baseline.__dict__,
        "ratio": ratio,
        "body_bytes": size,
        "cold_start_s": cold_start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("cases", nargs="*", default=["rest-read"])
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="lowcode-bench-") as tmp:
        for case in args.cases:
            if case == "rest-read":
                results[case] = rest_read(Path(tmp), args.seconds, args.connections)
            else:
                sys.exit(f"unknown case {case}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
