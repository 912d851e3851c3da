"""Enqueue on the caller's connection, inside the caller's transaction: the
job exists exactly when the business write that caused it commits."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from pgqueuer import Queries
from pgqueuer.adapters.persistence.qb import QueryQueueBuilder
from pgqueuer.adapters.tracing.opentelemetry import OpenTelemetryTracing
from pgqueuer.db import AsyncpgDriver
from pgqueuer.errors import DuplicateJobError
from pydantic import BaseModel, ValidationError

from lowcode.jobs.errors import DuplicateJob, InvalidJobPayload
from lowcode.jobs.registry import Entrypoint
from lowcode.platform.db import Connection
from lowcode.platform.request_context import current_request_id
from lowcode.resources import Resources

P = TypeVar("P", bound=BaseModel)

# Header the worker reads the causing request's id from; W3C trace context
# goes under pgqueuer's own "otel" header.
REQUEST_ID_HEADER = "request_id"

_JSONB_HEADERS = "$6::jsonb[]"


class _TextHeadersQueueBuilder(QueryQueueBuilder):
    """pgqueuer sends job headers as JSON text, for asyncpg's default jsonb
    codec. Our connections carry a codec that encodes Python values
    (platform/db.py) and would store that text as one JSON string; typing the
    parameter as text[] and casting in SQL leaves the caller's connection as is."""

    def build_enqueue_query(
        self, on_conflict: Literal["raise", "skip", "update_priority"] = "raise"
    ) -> str:
        sql = super().build_enqueue_query(on_conflict)
        if _JSONB_HEADERS not in sql:
            raise RuntimeError("pgqueuer's enqueue statement changed; revisit enqueue.py")
        return sql.replace(_JSONB_HEADERS, "$6::text[]::jsonb[]")


@functools.cache
def _queue_builder() -> QueryQueueBuilder:
    return _TextHeadersQueueBuilder()


def _delay(execute_after: timedelta | datetime | None) -> timedelta | None:
    if isinstance(execute_after, datetime):
        return max(execute_after - datetime.now(UTC), timedelta(0))
    return execute_after


async def enqueue(
    res: Resources,
    conn: Connection,
    entrypoint: Entrypoint[P],
    payload: P | dict[str, Any],
    *,
    priority: int | None = None,
    execute_after: timedelta | datetime | None = None,
    dedupe_key: str | None = None,
    on_duplicate: Literal["raise", "skip"] = "raise",
) -> int | None:
    """Enqueue one job on `conn` (the caller's transaction) and return its id.

    `payload` is validated against the entrypoint's model (InvalidJobPayload).
    Higher `priority` runs first; `execute_after` delays the job. While a job
    with the same `dedupe_key` is queued or running, another one is refused:
    DuplicateJob (the statement failed, so the transaction is aborted), or
    with `on_duplicate="skip"` None and the transaction goes on.
    """
    ids = await enqueue_many(
        res,
        conn,
        entrypoint,
        [payload],
        priority=priority,
        execute_after=execute_after,
        dedupe_keys=[dedupe_key],
        on_duplicate=on_duplicate,
    )
    return ids[0]


async def enqueue_many(
    res: Resources,
    conn: Connection,
    entrypoint: Entrypoint[P],
    payloads: Sequence[P | dict[str, Any]],
    *,
    priority: int | None = None,
    execute_after: timedelta | datetime | None = None,
    dedupe_keys: Sequence[str | None] | None = None,
    on_duplicate: Literal["raise", "skip"] = "raise",
) -> list[int | None]:
    """`enqueue` for many payloads of one entrypoint in one statement; the ids
    come back in order, None where a duplicate was skipped."""
    if not payloads:
        return []
    try:
        bodies: list[bytes | None] = [
            entrypoint.validate(p).model_dump_json().encode() for p in payloads
        ]
    except ValidationError as e:
        raise InvalidJobPayload(f"payload does not fit {entrypoint.name}: {e}") from e
    count = len(bodies)
    request_id = current_request_id()
    headers: dict[str, str] | None = {REQUEST_ID_HEADER: request_id} if request_id else None
    queries = Queries(
        AsyncpgDriver(conn),
        qbq=_queue_builder(),
        tracer=OpenTelemetryTracing(tracer=res.tracer),
    )
    keys: list[str | None] = list(dedupe_keys) if dedupe_keys is not None else [None] * count
    names = [entrypoint.name] * count
    priorities = [entrypoint.priority if priority is None else priority] * count
    delays = [_delay(execute_after)] * count
    try:
        ids: Sequence[int | None]
        if on_duplicate == "skip":
            ids = await queries.enqueue(
                names, bodies, priorities, delays, keys, [headers] * count, on_conflict="skip"
            )
        else:
            ids = await queries.enqueue(names, bodies, priorities, delays, keys, [headers] * count)
    except DuplicateJobError as e:
        raise DuplicateJob(
            f"a {entrypoint.name} job with one of the keys {e.dedupe_key} is queued or running"
        ) from e
    added = sum(1 for i in ids if i is not None)
    if added:
        res.metrics.jobs_enqueued.labels(entrypoint.name).inc(added)
    return list(ids)
