"""The sql-validate case: Validate calls/s and latency through our client
(grpclib, the API's whole client path) beside a bare grpcio client, against
the same reference peer (`lowcode peers`, grpcio + sqlglot) in the same run.

Each client runs in its own process; the rounds alternate (ours, bare, ours,
bare…) so drift on a shared machine hits both alike; the ratio compares the
summed calls. Target: ours >= 0.7 of bare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ports import free_port


def _peer(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    target = f"127.0.0.1:{port}"
    log = (work / "sql-peer.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lowcode_peers", f"--listen=calcite={target}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        # Per-call log lines would cost the peer as much as a call; both
        # clients are measured against the same quiet peer.
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    from scripts.benchmarks.harness import wait_listening

    wait_listening(port)
    return proc, target


def _client(impl: str, target: str, seconds: float, concurrency: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable, "-m", "scripts.benchmarks.sql_validate_client",
            f"--impl={impl}", f"--target={target}", f"--seconds={seconds}",
            f"--concurrency={concurrency}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(work: Path, seconds: float, concurrency: int, rounds: int = 2) -> dict[str, object]:
    proc, target = _peer(work)
    results: dict[str, list[dict[str, float]]] = {"ours": [], "bare": []}
    try:
        for _ in range(rounds):
            for impl in ("ours", "bare"):
                results[impl].append(_client(impl, target, seconds / rounds, concurrency))
    finally:
        proc.terminate()
        proc.wait(10)

    def total(impl: str) -> dict[str, float]:
        runs = results[impl]
        return {
            "calls_per_s": sum(r["calls"] for r in runs) / seconds,
            "p50_ms": max(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
        }

    ours, bare = total("ours"), total("bare")
    ratio = ours["calls_per_s"] / bare["calls_per_s"] if bare["calls_per_s"] else 0.0
    print(
        f"sql-validate: Validate (3-table join, 20-table catalog), {concurrency} concurrent "
        f"callers, {seconds:g}s per client"
    )
    for name, r in (("lowcode client (grpclib)", ours), ("bare grpcio client", bare)):
        print(
            f"  {name:<26} {r['calls_per_s']:>8.0f} calls/s   p50 {r['p50_ms']:>7.2f} ms   "
            f"p99 {r['p99_ms']:>7.2f} ms   errors {r['errors']:.0f}"
        )
    print(f"  ratio {ratio:.2f} of bare grpcio (target >= 0.70)")
    return {"ours": ours, "bare": bare, "ratio": ratio, "rounds": results}
