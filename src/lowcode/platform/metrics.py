"""Prometheus metrics of one app instance, in its own registry.

A registry per app (not the global default) lets tests build many apps in one
process, and gives the worker (`lowcode worker`) a set of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Jobs run from microseconds (no-ops) up to the 10-minute default timeout.
JOB_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 180, 600)
# Sync runs take seconds to hours.
SYNC_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "lowcode_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "lowcode_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_in_flight = Gauge(
            "lowcode_http_requests_in_flight", "HTTP requests being served.", registry=r
        )
        self.query_latency = Histogram(
            "lowcode_db_query_duration_seconds",
            "SQL query latency by query name.",
            ["query"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.query_errors = Counter(
            "lowcode_db_query_errors_total",
            "SQL queries that raised, by query name.",
            ["query"],
            registry=r,
        )
        self.cache_requests = Counter(
            "lowcode_cache_requests_total",
            "Cache lookups by cache and result.",
            ["cache", "result"],
            registry=r,
        )

        self.ws_rooms = Gauge("lowcode_ws_rooms", "Open collaboration rooms.", registry=r)
        self.ws_clients = Gauge("lowcode_ws_clients", "Clients in collaboration rooms.", registry=r)
        self.ws_messages = Counter(
            "lowcode_ws_messages_total",
            "WebSocket frames by direction and type.",
            ["direction", "type"],
            registry=r,
        )
        self.ws_ack_latency = Histogram(
            "lowcode_ws_ack_latency_seconds",
            "From receiving an op to acknowledging it durable.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ws_dropped = Counter(
            "lowcode_ws_slow_clients_dropped_total",
            "Clients disconnected for not reading fast enough.",
            registry=r,
        )

        self.jobs_enqueued = Counter(
            "lowcode_jobs_enqueued_total",
            "Jobs enqueued, by entrypoint.",
            ["entrypoint"],
            registry=r,
        )
        self.jobs_started = Counter(
            "lowcode_jobs_started_total",
            "Job runs started, by entrypoint.",
            ["entrypoint"],
            registry=r,
        )
        self.jobs_succeeded = Counter(
            "lowcode_jobs_succeeded_total",
            "Job runs that succeeded, by entrypoint.",
            ["entrypoint"],
            registry=r,
        )
        self.jobs_retried = Counter(
            "lowcode_jobs_retried_total",
            "Job runs that failed and were scheduled again, by entrypoint.",
            ["entrypoint"],
            registry=r,
        )
        self.jobs_failed = Counter(
            "lowcode_jobs_failed_total",
            "Jobs that failed for good and are held, by entrypoint.",
            ["entrypoint"],
            registry=r,
        )
        self.job_duration = Histogram(
            "lowcode_job_duration_seconds",
            "Job run time by entrypoint, whatever the outcome.",
            ["entrypoint"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.jobs_queue_depth = Gauge(
            "lowcode_jobs_queue_depth",
            "Jobs in the queue by entrypoint and state (ready, scheduled, running, held),"
            " as the worker last counted them.",
            ["entrypoint", "state"],
            registry=r,
        )

        # gRPC peers (platform/grpc.py): calls by peer, method and status code.
        self.grpc_client_calls = Counter(
            "lowcode_grpc_client_calls_total",
            "gRPC client call attempts by peer, method and status code.",
            ["peer", "method", "code"],
            registry=r,
        )
        self.grpc_client_latency = Histogram(
            "lowcode_grpc_client_call_duration_seconds",
            "gRPC client call attempt latency by peer and method.",
            ["peer", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.grpc_client_retries = Counter(
            "lowcode_grpc_client_retries_total",
            "gRPC calls attempted again after a transient failure, by peer and method.",
            ["peer", "method"],
            registry=r,
        )
        self.grpc_breaker_state = Gauge(
            "lowcode_grpc_breaker_state",
            "Circuit breaker of each gRPC peer: 0 closed, 1 half-open, 2 open.",
            ["peer"],
            registry=r,
        )
        # Data syncs (sync/events.py): runs by the status they ended with, rows
        # written by finished runs, run durations.
        self.sync_runs = Counter(
            "lowcode_sync_runs_total",
            "Sync runs that ended, by status (FINISHED, FAILED, CANCELED).",
            ["status"],
            registry=r,
        )
        self.sync_rows = Counter(
            "lowcode_sync_rows_total",
            "Rows written to sinks by sync runs that finished.",
            registry=r,
        )
        self.sync_run_duration = Histogram(
            "lowcode_sync_run_duration_seconds",
            "Sync run time from start to end, by the status it ended with.",
            ["status"],
            buckets=SYNC_BUCKETS,
            registry=r,
        )
        self.sync_runs_followed = Gauge(
            "lowcode_sync_runs_followed",
            "Sync runs this worker is following on the data-sync peer right now.",
            registry=r,
        )
        # Datasources: connection pools kept per datasource (datasources/pools.py).
        self.datasource_pools = Gauge(
            "lowcode_datasource_pools", "Open per-datasource connection pools.", registry=r
        )

    def watch_pool(self, stats: Callable[[], tuple[int, int, int]]) -> None:
        """Expose DB pool size/in-use/idle, read at scrape time from `stats()`."""
        self.registry.register(_PoolCollector(stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _PoolCollector(Collector):
    def __init__(self, stats: Callable[[], tuple[int, int, int]]) -> None:
        self._stats = stats

    def collect(self):  # type: ignore[no-untyped-def]
        size, in_use, idle = self._stats()
        family = GaugeMetricFamily(
            "lowcode_db_pool_connections", "DB pool connections by state.", labels=["state"]
        )
        family.add_metric(["size"], size)
        family.add_metric(["in_use"], in_use)
        family.add_metric(["idle"], idle)
        yield family

    def describe(self):  # type: ignore[no-untyped-def]
        return []
