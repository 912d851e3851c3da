"""Running a dataset's SQL for a preview, so that it cannot write and cannot
cost more than its bounds.

- a READ ONLY transaction (the backstop: PostgreSQL refuses any write in it,
  whatever the stored SQL says, even if edited by hand in the database); the
  pool's connections also default to read-only;
- a statement timeout set for that transaction only (`set_config(…, true)`);
- the statement is prepared as is (the extended protocol takes exactly one
  statement, so nothing can be appended) and read through a cursor, at most
  `limit + 1` rows, so a million-row table costs `limit` rows;
- a byte cap on the encoded rows.

Values are encoded JSON-safe: int8 and numeric as strings (no precision
lost in JavaScript), bytea as base64, times in ISO 8601, json parsed.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import ipaddress
import json
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from lowcode.datasets.errors import QueryFailed, preview_failure
from lowcode.datasets.models import Preview, PreviewColumn
from lowcode.datasources.models import ConnectionTarget
from lowcode.platform import jsoncodec
from lowcode.resources import Resources

MAX_SAFE_INTEGER = 2**53 - 1
INTEGER_TYPES = frozenset({"int2", "int4", "oid"})
STRING_NUMBER_TYPES = frozenset({"int8", "numeric", "money"})
FLOAT_TYPES = frozenset({"float4", "float8"})


def _interval(value: dt.timedelta) -> str:
    """ISO 8601 duration: P[n]DT[n]S (asyncpg folds months into days)."""
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    days, rest = divmod(abs(total), 86400)
    seconds = f"{rest:.6f}".rstrip("0").rstrip(".")
    return f"{sign}P{int(days)}DT{seconds}S"


def json_safe(value: Any) -> Any:
    """Any value asyncpg returns, as something JSON (and JavaScript) keeps exactly."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _interval(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, asyncpg.Record):
        return [json_safe(v) for v in value.values()]
    if isinstance(value, asyncpg.Range):
        return {
            "lower": json_safe(value.lower),
            "upper": json_safe(value.upper),
            "lower_inc": value.lower_inc,
            "upper_inc": value.upper_inc,
            "empty": value.isempty,
        }
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def _json_value(value: Any) -> Any:
    # json/jsonb arrive as text on datasource connections (no codec there).
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return json_safe(value)


def column_codec(type_name: str, kind: str) -> tuple[str, str, Callable[[Any], Any]]:
    """(type as shown, json_type, encoder) for one result column."""
    if kind == "array":
        shown = type_name if type_name.endswith("[]") else f"{type_name.lstrip('_')}[]"
        return shown, "array", json_safe
    if type_name in INTEGER_TYPES:
        return type_name, "integer", json_safe
    if type_name in STRING_NUMBER_TYPES:
        return type_name, "string", lambda v: None if v is None else str(v)
    if type_name in FLOAT_TYPES:
        return type_name, "number", json_safe
    if type_name == "bool":
        return type_name, "boolean", json_safe
    if type_name in ("json", "jsonb"):
        return type_name, "json", _json_value
    return type_name, "string", lambda v: None if v is None else json_safe(v)


async def run_preview(res: Resources, target: ConnectionTarget, sql: str, limit: int) -> Preview:
    """At most `limit` rows of `sql` on the datasource, read-only and bounded."""
    settings = res.settings
    timeout_ms = settings.dataset_statement_timeout_ms
    # The client-side timeout is a fallback for a server that ignores ours.
    client_timeout = timeout_ms / 1000 * 2 + settings.datasource_connect_timeout_s
    start = time.perf_counter()
    async with res.datasource_pools.acquire(target) as conn:
        try:
            async with conn.transaction(readonly=True):
                await res.queries.datasets.limit_statement_time(conn, timeout_ms=str(timeout_ms))
                statement = await conn.prepare(sql, timeout=client_timeout)
                if statement.get_parameters():
                    raise QueryFailed("dataset SQL cannot have parameters ($1, $2…)")
                return await _read(statement, limit, settings.dataset_preview_max_bytes, start)
        except Exception as e:
            failure = preview_failure(e, timeout_ms=timeout_ms, client_timeout_s=client_timeout)
            if failure is None:
                raise
            raise failure from e


async def _read(
    statement: asyncpg.prepared_stmt.PreparedStatement, limit: int, max_bytes: int, start: float
) -> Preview:
    codecs = [column_codec(a.type.name, a.type.kind) for a in statement.get_attributes()]
    columns = [
        PreviewColumn(a.name, shown, json_type)
        for a, (shown, json_type, _) in zip(statement.get_attributes(), codecs, strict=True)
    ]
    encoders = [c[2] for c in codecs]
    rows: list[list[Any]] = []
    size, has_more, truncated = 0, False, False
    # One row past the limit tells whether there is more.
    async for record in statement.cursor(prefetch=min(limit + 1, 200)):
        if len(rows) == limit:
            has_more = True
            break
        row = [encode(v) for encode, v in zip(encoders, record.values(), strict=True)]
        size += len(jsoncodec.dumpb(row)) + 1
        if size > max_bytes:
            truncated = True
            break
        rows.append(row)
    elapsed = round((time.perf_counter() - start) * 1000, 2)
    return Preview(columns, rows, limit, has_more or truncated, truncated, elapsed)
