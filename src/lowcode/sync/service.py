"""Sync job and run use cases. Editors define sync jobs, start and cancel
runs; owners delete sync jobs; viewers read both.

A definition is checked on the datasources before it is saved
(`checks.py`), so most mistakes are a 4xx now rather than a failed run
later. A run is a row and its `sync.run` job, written in one transaction;
one run per sync job may be active at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lowcode.datasets.errors import DatasetNotFound
from lowcode.datasources.service import target_in_workspace
from lowcode.identity.models import Actor
from lowcode.platform.db import Connection, transaction
from lowcode.platform.errors import (
    AppError,
    FieldError,
    VersionConflict,
)
from lowcode.platform.pagination import PageOf, PageRequest, fetch_page
from lowcode.resources import Resources
from lowcode.sync import checks, events
from lowcode.sync.client import JobLost, SyncClient
from lowcode.sync.errors import (
    SyncJobInvalid,
    SyncJobNotFound,
    SyncRunActive,
    SyncRunEnded,
    SyncRunNotFound,
    SyncScheduleInvalid,
)
from lowcode.sync.jobs import enqueue_run
from lowcode.sync.models import (
    DatasetSource,
    Definition,
    Mode,
    Sink,
    Source,
    SyncJob,
    SyncRun,
    TableSource,
)
from lowcode.sync.schedule import next_tick, parse_schedule
from lowcode.workspaces.access import require_member_role, require_role
from lowcode_gen.queries.sync import SyncRunRow

log = logging.getLogger("lowcode.sync")

UNCHANGED: Any = object()  # a field the request did not mention
MAX_NAME_BYTES = 63  # PostgreSQL's identifier limit (NAMEDATALEN - 1)


@dataclass(frozen=True, slots=True)
class JobFields:
    """A sync job as a request states it; UNCHANGED where an update leaves a field be."""

    name: str | None = None
    description: str | None = None
    source: Source | None = None
    sink: Sink | None = None
    mode: Mode | None = None
    key_columns: tuple[str, ...] | None = None
    schedule: Any = UNCHANGED  # str, or None for "no schedule"


def source_from_api(body: dict[str, Any]) -> Source:
    if body["type"] == "dataset":
        return DatasetSource(uuid.UUID(body["dataset_id"]))
    return TableSource(
        uuid.UUID(body["datasource_id"]), body.get("schema", "public"), body["table"]
    )


def sink_from_api(body: dict[str, Any]) -> Sink:
    return Sink(uuid.UUID(body["datasource_id"]), body.get("schema", "public"), body["table"])


def _schedule(expression: str | None) -> tuple[str | None, datetime | None]:
    if expression is None:
        return None, None
    try:
        normalised = parse_schedule(expression)
    except ValueError as e:
        raise SyncScheduleInvalid(str(e), errors=[FieldError("schedule", str(e))]) from None
    return normalised, next_tick(normalised, datetime.now(UTC))


def _check_names(d: Definition) -> None:
    """Names PostgreSQL can hold (63 bytes of UTF-8), and no sink in a system
    schema (a superuser datasource could otherwise overwrite the catalog)."""
    named = [("sink.schema", d.sink.schema), ("sink.table", d.sink.table)]
    if isinstance(d.source, TableSource):
        named += [("source.schema", d.source.schema), ("source.table", d.source.table)]
    named += [(f"key_columns.{i}", k) for i, k in enumerate(d.key_columns)]
    problems = []
    for field, name in named:
        try:
            too_long = len(name.encode()) > MAX_NAME_BYTES
        except UnicodeEncodeError:
            problems.append(FieldError(field, "not valid UTF-8"))
            continue
        if too_long:
            problems.append(FieldError(field, f"longer than {MAX_NAME_BYTES} bytes"))
    if d.sink.schema.startswith("pg_") or d.sink.schema == "information_schema":
        problems.append(FieldError("sink.schema", "a system schema cannot be a sink"))
    if problems:
        raise SyncJobInvalid(f"{problems[0].field}: {problems[0].message}", errors=problems)


def _definition(current: Definition | None, fields: JobFields) -> Definition:
    source = fields.source or (current.source if current else None)
    sink = fields.sink or (current.sink if current else None)
    mode = fields.mode or (current.mode if current else None)
    assert source is not None and sink is not None and mode is not None
    keys = fields.key_columns
    if keys is None:
        keys = current.key_columns if current and mode == "upsert" else ()
    if mode == "upsert" and not keys:
        raise SyncJobInvalid(
            "upsert needs key_columns: the columns that identify a row",
            errors=[FieldError("key_columns", "required (at least one column) for mode upsert")],
        )
    if mode != "upsert" and keys:
        raise SyncJobInvalid(
            f"key_columns apply to upsert only (mode is {mode})",
            errors=[FieldError("key_columns", f"must be empty for mode {mode}")],
        )
    if len(set(keys)) != len(keys):
        raise SyncJobInvalid(
            "a key column is named twice", errors=[FieldError("key_columns", "duplicate")]
        )
    definition = Definition(source, sink, mode, tuple(keys))
    _check_names(definition)
    return definition


async def check_definition(
    res: Resources, conn: Connection, workspace_id: uuid.UUID, definition: Definition
) -> None:
    """The source reads, the keys are its columns, the sink can take its rows
    (see checks.py); the datasources and dataset must be this workspace's."""
    source = definition.source
    sql: str | None = None
    table: tuple[str, str] | None = None
    if isinstance(source, DatasetSource):
        dataset = await res.queries.sync.source_dataset(conn, dataset_id=source.dataset_id)
        if dataset is None or dataset.workspace_id != workspace_id:
            raise DatasetNotFound(f"no dataset {source.dataset_id} in this workspace")
        source_target = await target_in_workspace(res, conn, workspace_id, dataset.datasource_id)
        sql = dataset.sql
    else:
        source_target = await target_in_workspace(res, conn, workspace_id, source.datasource_id)
        table = (source.schema, source.table)
    sink_target = await target_in_workspace(res, conn, workspace_id, definition.sink.datasource_id)
    columns = await checks.source_columns(res, source_target, sql=sql, table=table)
    checks.check_keys(definition, columns)
    await checks.check_sink(res, sink_target, definition, columns)


async def _load(
    res: Resources, conn: Connection, actor: Actor, sync_job_id: uuid.UUID, minimum: str
) -> SyncJob:
    row = await res.queries.sync.get_sync_job_for_member(
        conn, sync_job_id=sync_job_id, user_id=actor.user_id
    )
    row = require_member_role(row, minimum, SyncJobNotFound, "sync job", sync_job_id)
    return SyncJob.from_row(row)


async def list_sync_jobs(
    res: Resources, actor: Actor, workspace_id: uuid.UUID, page: PageRequest
) -> PageOf[SyncJob]:
    q = res.queries.sync
    async with res.pool.acquire() as conn:
        await require_role(res, conn, actor, workspace_id, "viewer")
        return await fetch_page(
            page,
            q.list_sync_jobs(conn, workspace_id=workspace_id, limit=page.limit, offset=page.offset),
            SyncJob.from_row,
            lambda: q.count_sync_jobs(conn, workspace_id=workspace_id),
        )


async def create_sync_job(
    res: Resources, actor: Actor, workspace_id: uuid.UUID, fields: JobFields
) -> SyncJob:
    """Editors define a sync job; it is checked on its datasources first."""
    definition = _definition(None, fields)
    schedule, next_run_at = _schedule(fields.schedule if fields.schedule is not UNCHANGED else None)
    async with res.pool.acquire() as conn:
        await require_role(res, conn, actor, workspace_id, "editor")
        await check_definition(res, conn, workspace_id, definition)
    assert fields.name is not None
    async with transaction(res.pool) as conn:
        await require_role(res, conn, actor, workspace_id, "editor")
        # A name taken (CONFLICT) or a source or sink deleted meanwhile
        # (DATASOURCE_NOT_FOUND): sync/errors.py.
        row = await res.queries.sync.insert_sync_job(
            conn,
            workspace_id=workspace_id,
            name=fields.name.strip(),
            description=fields.description or "",
            created_by=actor.user_id,
            schedule=schedule,
            next_run_at=next_run_at,
            **_definition_columns(definition),
        )
    return SyncJob.from_row(row)


def _definition_columns(d: Definition) -> dict[str, Any]:
    table = d.source if isinstance(d.source, TableSource) else None
    return {
        "source_dataset_id": d.source.dataset_id if isinstance(d.source, DatasetSource) else None,
        "source_datasource_id": table.datasource_id if table else None,
        "source_schema": table.schema if table else None,
        "source_table": table.table if table else None,
        "sink_datasource_id": d.sink.datasource_id,
        "sink_schema": d.sink.schema,
        "sink_table": d.sink.table,
        "mode": d.mode,
        "key_columns": list(d.key_columns),
    }


async def get_sync_job(res: Resources, actor: Actor, sync_job_id: uuid.UUID) -> SyncJob:
    async with res.pool.acquire() as conn:
        return await _load(res, conn, actor, sync_job_id, "viewer")


async def update_sync_job(
    res: Resources,
    actor: Actor,
    sync_job_id: uuid.UUID,
    fields: JobFields,
    expected_version: int | None = None,
) -> SyncJob:
    """Editors change a sync job; a changed definition is checked again, a
    changed schedule moves `next_run_at`. Runs already started are not affected."""
    async with res.pool.acquire() as conn:
        current = await _load(res, conn, actor, sync_job_id, "editor")
        definition = _definition(current.definition, fields)
        if definition != current.definition:
            await check_definition(res, conn, current.workspace_id, definition)
    if fields.schedule is UNCHANGED:
        schedule, next_run_at = current.schedule, current.next_run_at
    else:
        schedule, next_run_at = _schedule(fields.schedule)
        if schedule is not None and schedule == current.schedule:
            next_run_at = current.next_run_at
    q = res.queries.sync
    async with transaction(res.pool) as conn:
        await _load(res, conn, actor, sync_job_id, "editor")
        # As in create_sync_job: sync/errors.py.
        row = await q.update_sync_job(
            conn,
            sync_job_id=sync_job_id,
            name=fields.name.strip() if fields.name else None,
            description=fields.description,
            schedule=schedule,
            next_run_at=next_run_at,
            expected_version=expected_version,
            updated_by=actor.user_id,
            **_definition_columns(definition),
        )
        if row is None:
            raise VersionConflict(await q.get_sync_job_version(conn, sync_job_id=sync_job_id))
    return SyncJob.from_row(row)


async def delete_sync_job(res: Resources, actor: Actor, sync_job_id: uuid.UUID) -> None:
    """Owners delete a sync job and its run history; not while a run is active."""
    q = res.queries.sync
    async with transaction(res.pool) as conn:
        await _load(res, conn, actor, sync_job_id, "owner")
        active = await q.active_run(conn, sync_job_id=sync_job_id)
        if active is not None:
            raise SyncRunActive(
                f"run {active} is still active; cancel it first", active_run_id=str(active)
            )
        await q.delete_sync_job(conn, sync_job_id=sync_job_id)


async def start_run(res: Resources, actor: Actor, sync_job_id: uuid.UUID) -> SyncRun:
    """Editors start a run: its row and its `sync.run` job in one transaction.
    SYNC_RUN_ACTIVE (409, with `active_run_id`) while another run is active."""
    q = res.queries.sync
    async with transaction(res.pool) as conn:
        job = await _load(res, conn, actor, sync_job_id, "editor")
        try:
            # A savepoint: after a refusal this transaction still reads which run is active.
            async with conn.transaction():
                row = await q.insert_sync_run(
                    conn,
                    sync_job_id=sync_job_id,
                    workspace_id=job.workspace_id,
                    trigger="manual",
                    requested_by=actor.user_id,
                    notify_user_id=actor.user_id,
                )
        except SyncRunActive:
            active = await q.active_run(conn, sync_job_id=sync_job_id)
            raise SyncRunActive(
                f"run {active} of this sync job is still active", active_run_id=str(active)
            ) from None
        row = await enqueue_run(res, conn, row)
    return SyncRun(row)


async def _run_for(
    res: Resources, conn: Connection, actor: Actor, run_id: uuid.UUID, minimum: str
) -> SyncRun:
    row = await res.queries.sync.get_sync_run_for_member(conn, run_id=run_id, user_id=actor.user_id)
    row = require_member_role(row, minimum, SyncRunNotFound, "sync run", run_id)
    fields = {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.name != "my_role"}
    return SyncRun(SyncRunRow(**fields))


async def list_runs(
    res: Resources, actor: Actor, sync_job_id: uuid.UUID, page: PageRequest
) -> PageOf[SyncRun]:
    q = res.queries.sync
    async with res.pool.acquire() as conn:
        await _load(res, conn, actor, sync_job_id, "viewer")
        return await fetch_page(
            page,
            q.list_sync_runs(conn, sync_job_id=sync_job_id, limit=page.limit, offset=page.offset),
            SyncRun,
            lambda: q.count_sync_runs(conn, sync_job_id=sync_job_id),
        )


async def get_run(res: Resources, actor: Actor, run_id: uuid.UUID) -> SyncRun:
    async with res.pool.acquire() as conn:
        return await _run_for(res, conn, actor, run_id, "viewer")


async def cancel_run(res: Resources, actor: Actor, run_id: uuid.UUID) -> SyncRun:
    """Editors cancel a run: a queued one ends CANCELED at once; a running one
    is CANCELING and the peer is asked to cancel now (the worker asks too, and
    records CANCELED when the peer confirms)."""
    async with transaction(res.pool) as conn:
        await _run_for(res, conn, actor, run_id, "editor")
        row = await res.queries.sync.request_cancel(conn, run_id=run_id, actor=actor.user_id)
        if row is None:
            current = await res.queries.sync.run_status(conn, run_id=run_id)
            raise SyncRunEnded(f"the run has already ended ({current})")
    if row.status == "CANCELED":
        await events.finished(res, row)
    elif row.submitted_at is not None:
        # Best effort: the worker following the run asks again within a second.
        with contextlib.suppress(AppError, JobLost):
            await SyncClient(res.peers.seatunnel).cancel(str(run_id), retry=False)
    return SyncRun(row)
