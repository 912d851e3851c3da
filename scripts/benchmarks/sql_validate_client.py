"""One client of the sql-validate case, in its own process: N concurrent
callers send the same Validate for S seconds; prints a JSON line with calls/s
and latency percentiles.

  --impl ours  lowcode.sql.client.SqlClient over GrpcTarget (grpclib +
               betterproto2, channel pool, deadline, retry, breaker, metrics,
               trace hook, reply conversion) — what the API uses.
  --impl bare  grpcio's generated stub on one grpc.aio channel, nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

CATALOG_TABLES = 20
QUERY = (
    "SELECT o.id, o.total, c.name, p.title\n"
    "  FROM orders o\n"
    "  JOIN customers c ON c.id = o.customer_id\n"
    "  JOIN products p ON p.id = o.product_id\n"
    " WHERE o.total > 100 AND c.name LIKE 'A%'\n"
    " ORDER BY o.total DESC LIMIT 50"
)


def catalog_spec() -> list[tuple[str, list[tuple[str, str]]]]:
    tables = [
        ("orders", [("id", "integer"), ("customer_id", "integer"), ("product_id", "integer"),
                    ("total", "numeric(10,2)"), ("created_at", "timestamp with time zone")]),
        ("customers", [("id", "integer"), ("name", "text"), ("email", "text")]),
        ("products", [("id", "integer"), ("title", "text"), ("price", "numeric")]),
    ]  # fmt: skip
    for i in range(CATALOG_TABLES - len(tables)):
        tables.append((f"t{i}", [(f"c{j}", "integer") for j in range(10)]))
    return tables


async def ours_caller(
    target: str,
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]:
    from opentelemetry.trace import NoOpTracer

    from lowcode.platform.grpc import GrpcTarget, TargetPolicy
    from lowcode.platform.metrics import Metrics
    from lowcode.sql.client import SqlClient
    from lowcode.sql.models import Catalog, CatalogColumn, CatalogTable

    catalog = Catalog(
        "public",
        tuple(
            CatalogTable("public", name, tuple(CatalogColumn(c, t) for c, t in cols))
            for name, cols in catalog_spec()
        ),
    )
    grpc_target = GrpcTarget(
        "calcite", "the SQL service", target, TargetPolicy(), Metrics(), NoOpTracer()
    )
    client = SqlClient(grpc_target)

    async def call() -> object:
        result = await client.validate(QUERY, "postgres", catalog)
        assert not result.errors, result.errors
        return result

    return call, grpc_target.close


async def bare_caller(
    target: str,
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]:
    import grpc

    from lowcode_peers_gen.calcite.v1 import sql_pb2 as pb
    from lowcode_peers_gen.calcite.v1 import sql_pb2_grpc as pb_grpc

    request = pb.ValidateRequest(
        sql=QUERY,
        dialect="postgres",
        catalog=pb.Catalog(
            default_schema="public",
            tables=[
                pb.CatalogTable(
                    schema="public",
                    name=name,
                    columns=[pb.CatalogColumn(name=c, type=t, nullable=True) for c, t in cols],
                )
                for name, cols in catalog_spec()
            ],
        ),
    )
    channel = grpc.aio.insecure_channel(target)
    stub = pb_grpc.SqlServiceStub(channel)

    async def call() -> object:
        reply = await stub.Validate(request, timeout=5.0)
        assert not reply.diagnostics, reply.diagnostics
        return reply

    async def close() -> None:
        await channel.close()

    return call, close


async def drive(
    impl: str, target: str, seconds: float, concurrency: int, warmup: float
) -> dict[str, float]:
    make = ours_caller if impl == "ours" else bare_caller
    call, close = await make(target)
    latencies: list[float] = []
    errors = 0

    async def worker(until: float, record: bool) -> None:
        nonlocal errors
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            if record:
                latencies.append(time.perf_counter() - start)

    try:
        warm_until = time.perf_counter() + warmup
        await asyncio.gather(*(worker(warm_until, False) for _ in range(concurrency)))
        begin = time.perf_counter()
        await asyncio.gather(*(worker(begin + seconds, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - begin
    finally:
        await close()
    latencies.sort()

    def pct(q: float) -> float:
        return (
            1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0
        )

    return {
        "calls": len(latencies),
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=["ours", "bare"], required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    result = asyncio.run(drive(args.impl, args.target, args.seconds, args.concurrency, args.warmup))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
