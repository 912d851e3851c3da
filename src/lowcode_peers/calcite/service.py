"""`calcite.v1.SqlService` on grpcio: request checks and the sqlglot analysis."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import grpc

from lowcode_peers.calcite import analysis, validation
from lowcode_peers.registry import PeerService
from lowcode_peers_gen.calcite.v1 import sql_pb2 as pb
from lowcode_peers_gen.calcite.v1 import sql_pb2_grpc as pb_grpc

R = TypeVar("R")


async def _answer(context: grpc.aio.ServicerContext, work: Callable[[], R]) -> R:
    """Run the analysis; a malformed request is INVALID_ARGUMENT. Problems with
    the SQL itself are diagnostics in the response, never a status code."""
    try:
        return work()
    except analysis.BadRequest as e:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        raise  # abort raises; this line only satisfies the type checker


class SqlService(pb_grpc.SqlServiceServicer):
    async def Parse(
        self, request: pb.ParseRequest, context: grpc.aio.ServicerContext
    ) -> pb.ParseResponse:
        return await _answer(context, lambda: analysis.parse(request.sql, request.dialect))

    async def Validate(
        self, request: pb.ValidateRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateResponse:
        return await _answer(
            context, lambda: validation.validate(request.sql, request.dialect, request.catalog)
        )

    async def Transpile(
        self, request: pb.TranspileRequest, context: grpc.aio.ServicerContext
    ) -> pb.TranspileResponse:
        return await _answer(
            context,
            lambda: analysis.transpile(
                request.sql, request.from_dialect, request.to_dialect, request.pretty
            ),
        )


PEER = PeerService(
    name="calcite",
    target_env="CALCITE_TARGET",
    default_port=50051,
    grpc_services=("calcite.v1.SqlService",),
    register=lambda server: pb_grpc.add_SqlServiceServicer_to_server(SqlService(), server),
)
