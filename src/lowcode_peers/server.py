"""`lowcode peers` / `python -m lowcode_peers`: every reference peer in one
process, each on its own address, with the standard gRPC health service.

One JSON log line per call (method, status, duration and the caller's
`traceparent`), so a trace can be followed across the hop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from pythonjsonlogger.json import JsonFormatter

from lowcode_peers.calcite.service import PEER as CALCITE
from lowcode_peers.registry import PeerService
from lowcode_peers.seatunnel.service import PEER as SEATUNNEL

# Every peer this process can run; a new one is one entry.
SERVICES: tuple[PeerService, ...] = (CALCITE, SEATUNNEL)

# grpcio's default; the API never sends more (SQL is capped far lower).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

log = logging.getLogger("lowcode_peers")
call_log = logging.getLogger("lowcode_peers.calls")


class CallLog(grpc.aio.ServerInterceptor):
    """Logs every call (a server stream when it ends); with `delay_s`, holds
    each unary call that long first (fault injection for deadline tests, off
    by default)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        metadata = {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}
        if handler.unary_stream is not None:
            return self._stream(handler, method, metadata)
        if handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        delay_s = self.delay_s

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            remaining = context.time_remaining()  # the caller's deadline (grpc-timeout)
            code = "OK"
            try:
                if delay_s:
                    await asyncio.sleep(delay_s)
                return await inner(request, context)
            except BaseException:
                status = context.code()
                code = status.name if status is not None else "UNKNOWN"
                raise
            finally:
                call_log.info(
                    "call",
                    extra={
                        "method": method,
                        "code": code,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                        "traceparent": metadata.get("traceparent"),
                        "deadline_s": round(remaining, 3) if remaining is not None else None,
                    },
                )

        return grpc.unary_unary_rpc_method_handler(
            call,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    @staticmethod
    def _stream(
        handler: grpc.RpcMethodHandler, method: str, metadata: dict[str, str]
    ) -> grpc.RpcMethodHandler:
        inner = handler.unary_stream

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code, sent = "OK", 0
            try:
                async for message in inner(request, context):
                    sent += 1
                    yield message
            except BaseException:
                status = context.code()
                code = status.name if status is not None else "CANCELLED"
                raise
            finally:
                call_log.info(
                    "call",
                    extra={
                        "method": method,
                        "code": code,
                        "messages": sent,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                        "traceparent": metadata.get("traceparent"),
                    },
                )

        return grpc.unary_stream_rpc_method_handler(
            call,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


async def serve(
    listen: dict[str, str], *, delay_s: float = 0.0, stop: asyncio.Event | None = None
) -> None:
    """Serve each named peer on its address until `stop` is set (or SIGTERM/SIGINT)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    by_name = {s.name: s for s in SERVICES}
    running: list[tuple[grpc.aio.Server, HealthServicer]] = []
    for name, address in listen.items():
        peer = by_name[name]
        server = grpc.aio.server(
            interceptors=[CallLog(delay_s)],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        peer.register(server)
        health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        for service in peer.grpc_services:
            await health.set(service, health_pb2.HealthCheckResponse.SERVING)
        port = server.add_insecure_port(address)
        await server.start()
        running.append((server, health))
        log.info("listening", extra={"peer": name, "address": address, "port": port})
    await stop.wait()
    log.info("stopping")
    for _, health in running:
        await health.enter_graceful_shutdown()
    await asyncio.gather(*(server.stop(grace=5) for server, _ in running))


def default_listen(host: str) -> dict[str, str]:
    """Each peer on the port of the API setting that names it (CALCITE_TARGET…)."""
    listen = {}
    for peer in SERVICES:
        target = os.environ.get(peer.target_env) or ""
        port = target.rsplit(":", 1)[-1] if ":" in target else str(peer.default_port)
        listen[peer.name] = f"{host}:{port}"
    return listen


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lowcode peers", description=__doc__)
    parser.add_argument(
        "--listen",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help=f"serve a peer ({', '.join(s.name for s in SERVICES)}) there; port 0 picks one. "
        "With --listen, only the peers it names are served; without, every peer on the port "
        "of its setting (CALCITE_TARGET, SEATUNNEL_TARGET)",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("PEERS_HOST", "127.0.0.1"),
        help="interface for peers without --listen (PEERS_HOST, default 127.0.0.1)",
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=float(os.environ.get("PEERS_DELAY_MS") or 0),
        help="hold every call this long (fault injection for tests; PEERS_DELAY_MS)",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    listen = {} if args.listen else default_listen(args.host)
    known = {s.name for s in SERVICES}
    for item in args.listen:
        name, _, address = item.partition("=")
        if name not in known or not address:
            parser.error(f"--listen {item!r}: expected NAME=HOST:PORT with NAME in {sorted(known)}")
        listen[name] = address
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}", style="{"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
    asyncio.run(serve(listen, delay_s=args.delay_ms / 1000))
