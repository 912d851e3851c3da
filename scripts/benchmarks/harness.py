"""Shared bench plumbing: a scratch database, servers as subprocesses, wrk runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.ports import free_port


@contextlib.contextmanager
def scratch_services(work: Path) -> Iterator[tuple[str, str]]:
    """(DSN of a fresh migrated database, Redis URL) for one case; dropped after."""
    with postgres_server(work) as admin, redis_server(work) as redis_url:
        dsn = asyncio.run(create_database(admin, "lowcode_bench"))
        try:
            run_dbmate(dsn, PROJECT_ROOT / "migrations", "up")
            yield dsn, redis_url
        finally:
            asyncio.run(drop_database(admin, dsn))


# `lowcode serve` refuses the public development JWT secret and datasource
# key; every process a case starts gets these (unless its env says otherwise),
# so a worker reads the datasource passwords the API stored.
SECRETS = {
    "JWT_SECRET": "bench-only-jwt-secret-0123456789abcdef",
    "DATASOURCE_KEYS": "YmVuY2gtb25seS1kYXRhc291cmNlLWtleS0zMmJ5dGU=",
}


def start_service(env: dict[str, str], log: Path) -> Server:
    """`lowcode serve` on a free port with `env`."""
    port = free_port()
    return start(
        [str(Path(sys.executable).parent / "lowcode"), "serve"],
        env | {"PORT": str(port), "HOST": "127.0.0.1"},
        log,
        port,
    )


PEER_TARGETS = ("CALCITE_TARGET", "SEATUNNEL_TARGET")


def start_peers(log: Path) -> tuple[Server, dict[str, str]]:
    """`lowcode peers` with every peer on a free port; returns the process and
    the `*_TARGET` settings that point the service (or worker) at it."""
    targets = {name: f"127.0.0.1:{free_port()}" for name in PEER_TARGETS}
    port = int(targets["CALCITE_TARGET"].rsplit(":", 1)[1])
    server = start(
        [str(Path(sys.executable).parent / "lowcode"), "peers"],
        {**targets, "PEERS_HOST": "127.0.0.1"},
        log,
        port,
    )
    wait_listening(port)
    return server, targets


def wait_ready(url: str, timeout_s: float = 60.0) -> float:
    """Seconds until `url` answers 200."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become ready in {timeout_s}s")


def wait_listening(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start(cmd: list[str], env: dict[str, str], log: Path, port: int) -> Server:
    handle = log.open("wb")
    proc = subprocess.Popen(
        cmd, env={**os.environ, **SECRETS, **env}, stdout=handle, stderr=subprocess.STDOUT
    )
    return Server(proc, port, log)


def uvicorn_cmd(app: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    timeouts: int = 0
    non_2xx: int = 0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"unparsable latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(
    url: str, *, connections: int, seconds: int, headers: dict[str, str], threads: int = 1
) -> WrkResult:
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"
    ]  # fmt: skip
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0
    )
    timeouts = int(sock.group(4)) if sock else 0
    return WrkResult(rps, p50, p99, errors, total, timeouts, int(non2xx.group(1)) if non2xx else 0)
