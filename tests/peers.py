"""The reference peers (`python -m lowcode_peers`) as real processes for tests:
started on a free port, stopped, killed and restarted on the same port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class PeerProcess:
    """One `lowcode_peers` process serving one peer (the SQL service unless
    `peer` says otherwise); its log is JSON lines."""

    def __init__(
        self,
        log_dir: Path,
        name: str = "calcite",
        *extra: str,
        peer: str = "calcite",
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_dir = log_dir
        self.name = name
        self.extra = extra
        self.peer = peer
        self.env = env or {}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: Path = log_dir / f"peer-{name}-0.log"
        self.starts = 0

    def __enter__(self) -> PeerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        self.starts += 1
        self.log = self.log_dir / f"peer-{self.name}-{id(self)}-{self.starts}.log"
        handle = self.log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lowcode_peers",
                f"--listen={self.peer}=127.0.0.1:{self.port}",
                *self.extra,
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LOG_LEVEL": "INFO", **self.env},
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.lines():
                if line.get("message") == "listening" and line.get("peer") == self.peer:
                    self.port = int(line["port"])
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"peer exited: {self.log.read_text()}")
            time.sleep(0.02)
        raise RuntimeError(f"peer did not start: {self.log.read_text()}")

    def lines(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        out = []
        for raw in self.log.read_text().splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
        return out

    def calls(self) -> list[dict[str, object]]:
        return [line for line in self.lines() if line.get("message") == "call"]

    def kill(self) -> None:
        """SIGKILL: an outage, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
