"""`lowcode serve` as real processes on real sockets, for process, crash, restart and
multi-node tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.ports import free_port

LOWCODE = str(Path(sys.executable).parent / "lowcode")


def wait_ready(
    base: str, proc: subprocess.Popen[Any] | None = None, timeout_s: float = 30.0
) -> httpx.Response:
    """The first 200 of `base`/health/ready; fails early when `proc` has exited."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        assert proc is None or proc.poll() is None, f"the server exited ({proc.returncode})"
        try:
            last = response = httpx.get(f"{base}/health/ready", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"server did not become ready: {last}")


@dataclass
class ServerProcess:
    """`lowcode serve` with `env` (over this process's environment) on `port`."""

    env: dict[str, str]
    log_path: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> ServerProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [LOWCODE, "serve"],
                env={**os.environ, **self.env, "PORT": str(self.port), "HOST": "127.0.0.1"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(self.http, self.proc, timeout_s)
        except AssertionError as e:
            raise AssertionError(f"{e}: {self.log_path.read_text()[-2000:]}") from None
        return self

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@contextmanager
def serving(env: dict[str, str], log_path: Path, timeout_s: float = 30) -> Iterator[ServerProcess]:
    """A started `ServerProcess` on a free port, stopped (SIGTERM) on the way out."""
    server = ServerProcess(env, log_path, free_port())
    try:
        yield server.start(timeout_s)
    finally:
        server.stop()


def server(settings: Any, tmp_path: Path, name: str, port: int | None = None) -> ServerProcess:
    """A node of the suite's deployment: the session's database, Redis and key prefix."""
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "LOG_FORMAT": "json",
        "SHUTDOWN_TIMEOUT_S": "10",
    }
    return ServerProcess(env, tmp_path / f"{name}.log", port or free_port())
