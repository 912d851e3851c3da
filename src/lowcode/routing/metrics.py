"""Metrics of the legacy router, in the app's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from lowcode.platform.metrics import LATENCY_BUCKETS

BREAKER_STATES = {"closed": 0, "half-opened": 1, "opened": 2}


class LegacyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.proxied = Counter(
            "lowcode_legacy_proxied_total",
            "Requests of routed workspaces sent to the legacy backend, by outcome"
            " (the status class, or timeout, unreachable, bad_gateway, breaker_open).",
            ["outcome"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "lowcode_legacy_fallbacks_total",
            "Requests our handler failed (5xx before responding), by what happened:"
            " replayed, legacy_failed, breaker_open, not_replayable, body_too_large.",
            ["result"],
            registry=registry,
        )
        self.breaker_state = Gauge(
            "lowcode_legacy_breaker_state",
            "The legacy backend's breaker: 0 closed, 1 half-open, 2 open.",
            registry=registry,
        )
        self.latency = Histogram(
            "lowcode_legacy_response_seconds",
            "From sending a request to the legacy backend to its response headers, by kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
