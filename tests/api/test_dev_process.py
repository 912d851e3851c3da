"""`lowcode dev` starts the reference peers with the API and the worker, and
`lowcode peers` answers the gRPC health service."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import httpx
from grpclib.client import Channel
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from tests.peers import PeerProcess
from tests.ports import free_port
from tests.processes import LOWCODE, wait_ready


def test_dev_runs_the_api_the_worker_and_the_peers_together(database_url, redis_url, tmp_path):
    port, peer_port, sync_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "CALCITE_TARGET": f"127.0.0.1:{peer_port}",
        "SEATUNNEL_TARGET": f"127.0.0.1:{sync_port}",
        "WORKER_METRICS_PORT": str(free_port()),
        "WORKER_CRON": "false",
    }
    with (tmp_path / "dev.log").open("w") as log:
        proc = subprocess.Popen(
            [LOWCODE, "dev"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, timeout_s=60)
            for _ in range(100):
                ready = httpx.get(f"{base}/health/ready", timeout=5).json()
                checks = ready["checks"]
                if checks["peer:calcite"]["status"] == checks["peer:seatunnel"]["status"] == "ok":
                    break
            assert ready["status"] == "ok", ready
            assert ready["checks"]["peer:calcite"]["required"] is False
            assert ready["checks"]["peer:seatunnel"]["required"] is False
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def test_the_peers_serve_the_grpc_health_service(tmp_path):
    peer = PeerProcess(tmp_path)
    peer.start()
    channel = Channel("127.0.0.1", peer.port)
    try:
        stub = HealthStub(channel)
        for service in ("", "calcite.v1.SqlService"):
            reply = await stub.Check(HealthCheckRequest(service=service), timeout=5)
            assert reply.status == HealthCheckResponse.SERVING
        peer.stop()  # SIGTERM: a graceful stop
        assert peer.proc is not None and peer.proc.returncode == 0
        assert any(line.get("message") == "stopping" for line in peer.lines())
    finally:
        channel.close()
        peer.stop()
        await asyncio.sleep(0)


def test_dev_refuses_to_start_when_a_port_it_needs_is_taken(database_url, redis_url, tmp_path):
    """A second checkout with the worker's metrics port held: `lowcode dev` says
    which port and which variable moves it, and starts nothing (the trial's
    worker died while the API kept answering ready)."""
    import socket

    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "CALCITE_TARGET": f"127.0.0.1:{free_port()}",
        "SEATUNNEL_TARGET": f"127.0.0.1:{free_port()}",
        "WORKER_METRICS_PORT": str(taken),
    }
    try:
        result = subprocess.run(
            [LOWCODE, "dev"], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        holder.close()
    assert result.returncode != 0
    assert f":{taken} (WORKER_METRICS_PORT)" in result.stderr, result.stderr
    assert "port in use" in result.stderr
    # Nothing was started: the API port is still free.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_dev_defaults_are_for_a_terminal_and_test_scripts_and_production_keeps_its_own(
    monkeypatch,
):
    from lowcode.devenv import dev_env, dev_settings
    from lowcode.settings import Settings

    for name in ("LOG_FORMAT", "RATE_LIMIT_REGISTER_IP", "RATE_LIMIT_LOGIN_IP"):
        monkeypatch.delenv(name, raising=False)
    production = Settings()
    assert production.log_format == "json"
    assert production.rate_limit_register_ip == "10/minute"

    dev = dev_settings(Settings())
    assert dev.log_format == "console"
    assert dev.rate_limit_register_ip == "1000/minute"
    assert dev_env(dev)["LOG_FORMAT"] == "console"

    # What the developer sets wins.
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("RATE_LIMIT_REGISTER_IP", "3/minute")
    chosen = dev_settings(Settings())
    assert chosen.log_format == "json" and chosen.rate_limit_register_ip == "3/minute"
    assert chosen.rate_limit_login_ip == "1000/minute"
