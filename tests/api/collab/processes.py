"""`lowcode serve` as real processes, for crash, restart and multi-node tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.api.collab.conftest import free_port

LOWCODE = str(Path(sys.executable).parent / "lowcode")


@dataclass
class ServerProcess:
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
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [LOWCODE, "serve"],
            env={**os.environ, **self.env, "PORT": str(self.port), "HOST": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.http}/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

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


def server(settings, tmp_path: Path, name: str, port: int | None = None) -> ServerProcess:  # type: ignore[no-untyped-def]
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "LOG_FORMAT": "json",
        "SHUTDOWN_TIMEOUT_S": "10",
    }
    return ServerProcess(env, tmp_path / f"{name}.log", port or free_port())
