"""What a reference peer is: a gRPC service, where it listens by default, and
how it is added to a server. `server.SERVICES` lists them; a new peer is one
more entry there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import grpc


@dataclass(frozen=True, slots=True)
class PeerService:
    name: str  # the CLI / log name, e.g. "calcite"
    target_env: str  # the API's setting naming this peer, e.g. CALCITE_TARGET
    default_port: int
    grpc_services: tuple[str, ...]  # full service names, reported by the health service
    register: Callable[[grpc.aio.Server], None]
