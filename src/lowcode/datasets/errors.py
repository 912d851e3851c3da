"""The datasets context's errors, and what a datasource's errors mean for a
dataset's query (`preview_failure`)."""

from __future__ import annotations

import asyncpg

from lowcode.datasources.errors import DatasourceNotFound, DatasourceUnreachable
from lowcode.platform.db import ConstraintErrors
from lowcode.platform.errors import AppError, Conflict, NotFound, Unprocessable


class DatasetNotFound(NotFound):
    code = "DATASET_NOT_FOUND"


class DatasetNotReadOnly(Unprocessable):
    """The SQL writes (DML, a data-modifying CTE, row locks, a volatile
    function) or is not a single query."""

    code = "DATASET_NOT_READ_ONLY"


class QueryTimeout(Unprocessable):
    code = "QUERY_TIMEOUT"


class QueryFailed(Unprocessable):
    code = "QUERY_FAILED"


class DatasetInUse(Conflict):
    code = "DATASET_IN_USE"


# What the constraints of `queries/datasets/` mean (see `platform.db`).
CONSTRAINT_ERRORS: ConstraintErrors = {
    "datasets_workspace_id_name_key": lambda e, p: Conflict(
        f"a dataset named '{p.get('name')}' already exists here"
    ),
    # Inserting a dataset whose datasource was deleted meanwhile.
    "datasets_datasource_id_fkey": lambda e, p: DatasourceNotFound(
        f"no datasource {p.get('datasource_id')}"
    ),
    # Deleting a dataset a sync job reads.
    "sync_jobs_source_dataset_id_fkey": lambda e, p: DatasetInUse(
        "sync jobs still read this dataset; delete them first"
    ),
}


def preview_failure(
    e: BaseException, *, timeout_ms: int, client_timeout_s: float
) -> AppError | None:
    """What a failure of a dataset's query on its datasource means for the
    client; None for anything else (ours, a bug: it stays a 500)."""
    if isinstance(e, asyncpg.QueryCanceledError):
        return QueryTimeout(
            f"the query ran longer than the {timeout_ms} ms statement timeout and was canceled"
        )
    if isinstance(e, TimeoutError):  # before OSError, its base
        return QueryTimeout(f"the query did not finish within {client_timeout_s:g} s")
    if isinstance(e, asyncpg.ReadOnlySQLTransactionError):
        return DatasetNotReadOnly(f"the query tried to write, and previews are read-only: {e}")
    if isinstance(e, asyncpg.ConnectionDoesNotExistError | OSError):
        return DatasourceUnreachable("the datasource closed the connection")
    if isinstance(e, asyncpg.PostgresError | asyncpg.InterfaceError):
        sqlstate = getattr(e, "sqlstate", None)
        return QueryFailed(f"{sqlstate + ': ' if sqlstate else ''}{e}"[:1000])
    return None
