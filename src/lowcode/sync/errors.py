from __future__ import annotations

from lowcode.datasources.errors import DatasourceNotFound
from lowcode.platform.db import ConstraintErrors
from lowcode.platform.errors import Conflict, NotFound, Unprocessable


class SyncJobNotFound(NotFound):
    """Also what non-members get, so a sync job's existence does not leak."""

    code = "SYNC_JOB_NOT_FOUND"


class SyncRunNotFound(NotFound):
    code = "SYNC_RUN_NOT_FOUND"


class SyncRunActive(Conflict):
    """A run of this sync job is queued or running; `active_run_id` names it."""

    code = "SYNC_RUN_ACTIVE"


class SyncRunEnded(Conflict):
    code = "SYNC_RUN_ENDED"


class SyncSourceInvalid(Unprocessable):
    """The source table does not exist, or the source query does not prepare."""

    code = "SYNC_SOURCE_INVALID"


class SyncSinkInvalid(Unprocessable):
    """The sink cannot take the rows: not writable, missing columns, no unique
    key to upsert on, or column types the source's values do not fit."""

    code = "SYNC_SINK_INVALID"


class SyncJobInvalid(Unprocessable):
    """The definition is inconsistent: key columns that are not source
    columns, a dataset or datasource of another workspace."""

    code = "SYNC_JOB_INVALID"


class SyncScheduleInvalid(Unprocessable):
    """Five cron fields that do not parse, or never fire (30 February)."""

    code = "SYNC_SCHEDULE_INVALID"


def _source_or_sink_gone(_e: object, _params: object) -> DatasourceNotFound:
    return DatasourceNotFound("a datasource or dataset it names was just deleted")


# What the constraints of `queries/sync/` mean (see `platform.db`).
CONSTRAINT_ERRORS: ConstraintErrors = {
    "sync_jobs_workspace_id_name_key": lambda e, p: Conflict(
        f"a sync job named '{p.get('name')}' already exists here"
    ),
    "sync_jobs_source_dataset_id_fkey": _source_or_sink_gone,
    "sync_jobs_source_datasource_id_fkey": _source_or_sink_gone,
    "sync_jobs_sink_datasource_id_fkey": _source_or_sink_gone,
    # `start_run` catches it to name the active run.
    "sync_runs_one_active_idx": lambda e, p: SyncRunActive(
        "a run of this sync job is still active"
    ),
}
