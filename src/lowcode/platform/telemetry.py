"""OpenTelemetry tracing: a tracer provider per app, OTLP export when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-specific variable) is set, no
export otherwise. Tests pass their own span exporter."""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import NoOpTracerProvider
from opentelemetry.trace import TracerProvider as ApiTracerProvider

_asyncpg_instrumented = False


def tracing_enabled(exporter: SpanExporter | None = None) -> bool:
    return exporter is not None or bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def create_tracer_provider(
    service_name: str = "lowcode-api", exporter: SpanExporter | None = None
) -> ApiTracerProvider:
    """The SDK provider when spans go somewhere; otherwise the no-op one, because
    recording spans nobody exports costs ~10% of a request."""
    if not tracing_enabled(exporter):
        return NoOpTracerProvider()
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def instrument_asyncpg(provider: ApiTracerProvider) -> None:
    """asyncpg instrumentation patches the driver process-wide, so it happens once;
    later apps in the same process (tests) share the first provider's spans."""
    global _asyncpg_instrumented
    if _asyncpg_instrumented or not isinstance(provider, TracerProvider):
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    _asyncpg_instrumented = True
