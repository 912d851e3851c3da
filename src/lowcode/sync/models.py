from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lowcode_gen.queries.sync import GetSyncJobForMemberRow, SyncJobRow, SyncRunRow

Mode = Literal["append", "overwrite", "upsert"]
ACTIVE = frozenset({"QUEUED", "RUNNING", "CANCELING"})
ENDED = frozenset({"FINISHED", "FAILED", "CANCELED"})


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


@dataclass(frozen=True, slots=True)
class TableSource:
    datasource_id: uuid.UUID
    schema: str
    table: str

    def to_api(self) -> dict[str, Any]:
        return {
            "type": "table",
            "datasource_id": str(self.datasource_id),
            "schema": self.schema,
            "table": self.table,
        }


@dataclass(frozen=True, slots=True)
class DatasetSource:
    dataset_id: uuid.UUID

    def to_api(self) -> dict[str, Any]:
        return {"type": "dataset", "dataset_id": str(self.dataset_id)}


Source = TableSource | DatasetSource


@dataclass(frozen=True, slots=True)
class Sink:
    datasource_id: uuid.UUID
    schema: str
    table: str

    def to_api(self) -> dict[str, Any]:
        return {
            "datasource_id": str(self.datasource_id),
            "schema": self.schema,
            "table": self.table,
        }


@dataclass(frozen=True, slots=True)
class Definition:
    """What a sync job copies, where to, and how: the part a change re-checks."""

    source: Source
    sink: Sink
    mode: Mode
    key_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SyncJob:
    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    description: str
    definition: Definition
    schedule: str | None
    next_run_at: datetime | None
    version: int
    created_by: uuid.UUID | None
    created_at: datetime
    updated_by: uuid.UUID | None
    updated_at: datetime

    @classmethod
    def from_row(cls, r: SyncJobRow | GetSyncJobForMemberRow) -> SyncJob:
        source: Source
        if r.source_dataset_id is not None:
            source = DatasetSource(r.source_dataset_id)
        else:
            assert r.source_datasource_id and r.source_schema and r.source_table
            source = TableSource(r.source_datasource_id, r.source_schema, r.source_table)
        definition = Definition(
            source,
            Sink(r.sink_datasource_id, r.sink_schema, r.sink_table),
            r.mode,  # type: ignore[arg-type]  # the CHECK constraint holds it to Mode
            tuple(r.key_columns),
        )
        return cls(
            r.id, r.workspace_id, r.name, r.description, definition, r.schedule, r.next_run_at,
            r.version, r.created_by, r.created_at, r.updated_by, r.updated_at,
        )  # fmt: skip

    def to_api(self) -> dict[str, Any]:
        d = self.definition
        return {
            "id": str(self.id),
            "workspace_id": str(self.workspace_id),
            "name": self.name,
            "description": self.description,
            "source": d.source.to_api(),
            "sink": d.sink.to_api(),
            "mode": d.mode,
            "key_columns": list(d.key_columns),
            "schedule": self.schedule,
            "next_run_at": _iso(self.next_run_at),
            "version": self.version,
            "created_by": _id(self.created_by),
            "created_at": self.created_at.isoformat(),
            "updated_by": _id(self.updated_by),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SyncRun:
    row: SyncRunRow

    @property
    def id(self) -> uuid.UUID:
        return self.row.id

    @property
    def status(self) -> str:
        return self.row.status

    @property
    def active(self) -> bool:
        return self.row.status in ACTIVE

    def duration_s(self) -> float | None:
        r = self.row
        if r.started_at is None:
            return None
        end = r.finished_at or r.updated_at
        return max(0.0, (end - r.started_at).total_seconds())

    def to_api(self) -> dict[str, Any]:
        r = self.row
        return {
            "id": str(r.id),
            "sync_job_id": str(r.sync_job_id),
            "workspace_id": str(r.workspace_id),
            "status": r.status,
            "trigger": r.trigger,
            "requested_by": _id(r.requested_by),
            "job_id": r.queue_job_id,
            "peer_status": r.peer_status,
            "rows_read": r.rows_read,
            "rows_written": r.rows_written,
            "bytes_read": r.bytes_read,
            "bytes_written": r.bytes_written,
            "rows_per_second": r.rows_per_second,
            "error": r.error,
            "created_at": r.created_at.isoformat(),
            "started_at": _iso(r.started_at),
            "finished_at": _iso(r.finished_at),
            "duration_s": self.duration_s(),
            "cancel_requested_at": _iso(r.cancel_requested_at),
            "canceled_by": _id(r.canceled_by),
            "updated_at": r.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class JobState:
    """The peer's view of a job (SeaTunnel's job-info), bounded and checked."""

    status: str  # SeaTunnel's JobStatus name: CREATED, RUNNING, FINISHED…
    error: str
    rows_read: int  # SourceReceivedCount
    rows_written: int  # SinkWriteCount
    bytes_read: int  # SourceReceivedBytes
    bytes_written: int  # SinkWriteBytes
    rows_per_second: float  # SinkWriteQPS
    sequence: int = 0  # of the event that carried it (0: from GetJob)

    @property
    def ended(self) -> bool:
        return self.status in PEER_END_STATES


# SeaTunnel's end states (JobStatus.isEndState).
PEER_END_STATES = frozenset({"FINISHED", "FAILED", "CANCELED", "SAVEPOINT_DONE", "UNKNOWABLE"})
