"""The SQL service's client: the only importer of its generated stubs.

Calls go through the `calcite` `GrpcTarget` (deadline, retries, breaker,
trace context, metrics); answers come back as `lowcode.sql.models` objects,
bounded in size (a peer's reply is outside input too).
"""

from __future__ import annotations

import functools

from grpclib.client import Channel

from lowcode.platform.grpc import GrpcTarget
from lowcode.sql.models import (
    Analysis,
    Catalog,
    ColumnRef,
    Diagnostic,
    FunctionRef,
    OutputColumn,
    Span,
    TableRef,
    Transpiled,
)
from lowcode_gen.proto.calcite.v1 import (
    Catalog as PbCatalog,
)
from lowcode_gen.proto.calcite.v1 import (
    CatalogColumn as PbCatalogColumn,
)
from lowcode_gen.proto.calcite.v1 import (
    CatalogTable as PbCatalogTable,
)
from lowcode_gen.proto.calcite.v1 import (
    Diagnostic as PbDiagnostic,
)
from lowcode_gen.proto.calcite.v1 import (
    ParseRequest,
    ParseResponse,
    SqlServiceStub,
    TranspileRequest,
    TranspileResponse,
    ValidateRequest,
    ValidateResponse,
)
from lowcode_gen.proto.calcite.v1 import (
    Span as PbSpan,
)

SERVICE = "calcite.v1.SqlService"
# Caps on what a reply may carry into our responses and database.
MAX_ITEMS = 2000
MAX_TEXT = 2000
MAX_SQL = 1_000_000


def _text(value: str, limit: int = MAX_TEXT) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _span(span: PbSpan | None) -> Span | None:
    if span is None or span.start_line <= 0:
        return None
    return Span(
        span.start_line,
        span.start_column,
        span.end_line,
        span.end_column,
        span.start_offset,
        span.end_offset,
    )


def _diagnostic(d: PbDiagnostic) -> Diagnostic:
    severity = d.severity.name.lower() if d.severity.value else "error"
    return Diagnostic(
        severity if severity in ("error", "warning", "info") else "error",
        _text(d.code, 64) or "VALIDATION_ERROR",
        _text(d.message),
        _span(d.span),
        tuple(_text(e, 100) for e in d.expected[:50]),
    )


def _analysis(reply: ParseResponse | ValidateResponse) -> Analysis:
    outputs = reply.output_columns if isinstance(reply, ValidateResponse) else []
    return Analysis(
        kind=reply.kind.name.lower(),
        statement_count=reply.statement_count,
        normalized_sql=_text(reply.normalized_sql, MAX_SQL),
        tables=tuple(
            TableRef(
                _text(t.schema, 200),
                _text(t.name, 200),
                _text(t.alias, 200),
                "write" if t.access.name == "WRITE" else "read",
                _span(t.span),
            )
            for t in reply.tables[:MAX_ITEMS]
        ),
        columns=tuple(
            ColumnRef(_text(c.table, 200), _text(c.name, 200)) for c in reply.columns[:MAX_ITEMS]
        ),
        functions=tuple(
            FunctionRef(_text(f.name, 200), f.user_defined, _span(f.span))
            for f in reply.functions[:MAX_ITEMS]
        ),
        output_columns=tuple(
            OutputColumn(_text(c.name, 200), _text(c.type, 200) or "UNKNOWN")
            for c in outputs[:MAX_ITEMS]
        ),
        diagnostics=tuple(_diagnostic(d) for d in reply.diagnostics[:100]),
    )


@functools.lru_cache(maxsize=64)
def _encoded_catalog(catalog: Catalog) -> bytes:
    """The request's `catalog` field, encoded once per catalog.

    betterproto2 encodes in pure Python, and a catalog of a few hundred
    columns cost ~10 ms per Validate — most of the client's time. A live
    catalog is the same (cached, frozen) object call after call, so its
    bytes are kept and appended as the message's preserved unknown fields;
    protobuf readers accept fields in any order, so the peer sees field 3.
    """
    return bytes(ValidateRequest(catalog=_catalog(catalog)))


def _catalog(catalog: Catalog) -> PbCatalog:
    return PbCatalog(
        default_schema=catalog.default_schema,
        tables=[
            PbCatalogTable(
                schema=t.schema,
                name=t.name,
                columns=[
                    PbCatalogColumn(name=c.name, type=c.type, nullable=c.nullable)
                    for c in t.columns
                ],
            )
            for t in catalog.tables
        ],
    )


class SqlClient:
    """Parse, Validate and Transpile are pure functions of their input, so all
    three are idempotent and retried on transient failures."""

    def __init__(self, target: GrpcTarget) -> None:
        self.target = target

    async def parse(self, sql: str, dialect: str) -> Analysis:
        request = ParseRequest(sql=sql, dialect=dialect)

        async def call(channel: Channel, deadline_s: float) -> ParseResponse:
            return await SqlServiceStub(channel).parse(request, timeout=deadline_s)

        return _analysis(await self.target.call("Parse", call, idempotent=True))

    async def validate(self, sql: str, dialect: str, catalog: Catalog) -> Analysis:
        request = ValidateRequest(sql=sql, dialect=dialect)
        request._unknown_fields = _encoded_catalog(catalog)

        async def call(channel: Channel, deadline_s: float) -> ValidateResponse:
            return await SqlServiceStub(channel).validate(request, timeout=deadline_s)

        return _analysis(await self.target.call("Validate", call, idempotent=True))

    async def transpile(self, sql: str, source: str, target: str, *, pretty: bool) -> Transpiled:
        request = TranspileRequest(sql=sql, from_dialect=source, to_dialect=target, pretty=pretty)

        async def call(channel: Channel, deadline_s: float) -> TranspileResponse:
            return await SqlServiceStub(channel).transpile(request, timeout=deadline_s)

        reply = await self.target.call("Transpile", call, idempotent=True)
        return Transpiled(
            _text(reply.sql, MAX_SQL),
            tuple(_text(w) for w in reply.warnings[:100]),
            tuple(_diagnostic(d) for d in reply.diagnostics[:100]),
        )

    async def health(self) -> str:
        return await self.target.health(SERVICE)
