"""The datasources context's errors, and what errors of a datasource's
PostgreSQL server (not ours) mean: every `except` on a datasource's driver
errors names a tuple or function of this module."""

from __future__ import annotations

import asyncio

import asyncpg

from lowcode.platform.db import ConstraintErrors
from lowcode.platform.errors import Conflict, NotFound, Unprocessable


class DatasourceNotFound(NotFound):
    """Also what non-members get, so a datasource's existence does not leak."""

    code = "DATASOURCE_NOT_FOUND"


class HostRefused(Unprocessable):
    code = "DATASOURCE_HOST_REFUSED"


class DatasourceUnreachable(Unprocessable):
    """Connecting failed (refused, timed out, bad credentials, DNS): the
    datasource's configuration or the server it names, not this service."""

    code = "DATASOURCE_UNREACHABLE"


class DatasourceInUse(Conflict):
    code = "DATASOURCE_IN_USE"


def _in_use(_e: object, _params: object) -> DatasourceInUse:
    return DatasourceInUse("datasets or sync jobs still use this datasource; delete them first")


# What the constraints of `queries/datasources/` mean (see `platform.db`). The
# foreign keys into datasources fail only on its delete here.
CONSTRAINT_ERRORS: ConstraintErrors = {
    "datasources_workspace_id_name_key": lambda e, p: Conflict(
        f"a datasource named '{p.get('name')}' already exists here"
    ),
    "datasets_datasource_id_fkey": _in_use,
    "sync_jobs_source_datasource_id_fkey": _in_use,
    "sync_jobs_sink_datasource_id_fkey": _in_use,
}


# Errors that mean "could not connect": the datasource's problem, reported as
# DATASOURCE_UNREACHABLE (422), never as our 5xx.
CONNECT_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
)

# A statement the datasource's server refused or failed (its SQL, its rights,
# its state): the datasource's answer, not a bug of ours.
SQL_ERRORS: tuple[type[Exception], ...] = (asyncpg.PostgresError,)

# A statement on an open connection failed, or the connection under it did.
REMOTE_ERRORS: tuple[type[Exception], ...] = (asyncpg.PostgresError, TimeoutError, OSError)


def describe_connect_error(e: BaseException) -> str:
    """A message for the caller that names the failure, never the password."""
    if isinstance(e, TimeoutError | asyncio.TimeoutError):
        return "connection timed out"
    if isinstance(e, asyncpg.PostgresError):
        return f"{type(e).__name__}: {e.args[0] if e.args else ''}"[:300]
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    return f"{type(e).__name__}: {e}"[:300]
