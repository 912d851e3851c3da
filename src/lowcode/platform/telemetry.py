"""OpenTelemetry tracing: a tracer provider per app, OTLP export when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific variable) is set, no
export otherwise. Tests pass their own span exporter."""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

_asyncpg_instrumented = False


def create_tracer_provider(
    service_name: str = "lowcode-api", exporter: SpanExporter | None = None
) -> TracerProvider:
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def instrument_asyncpg(provider: TracerProvider) -> None:
    """asyncpg instrumentation patches the driver process-wide, so it happens once;
    later apps in the same process (tests) share the first provider's spans."""
    global _asyncpg_instrumented
    if _asyncpg_instrumented:
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    _asyncpg_instrumented = True
