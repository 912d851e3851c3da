"""Dataset use cases. Editors create and change datasets, owners delete them,
viewers read and preview them.

On create and on every change of its SQL, a dataset is validated by the SQL
service against its datasource's live catalog, and refused unless it is one
query that reads: no DML (a data-modifying CTE included), no row locks, no
call to a function the datasource marks VOLATILE (only those can write).
"""

from __future__ import annotations

import uuid

from lowcode.datasets.errors import DatasetNotFound, DatasetNotReadOnly
from lowcode.datasets.models import Dataset, Preview
from lowcode.datasets.preview import run_preview
from lowcode.datasources.catalog import live_catalog, volatile_functions
from lowcode.datasources.models import ConnectionTarget
from lowcode.datasources.service import connection_target, target_in_workspace
from lowcode.identity.models import Actor
from lowcode.platform.db import Connection, transaction
from lowcode.platform.errors import VersionConflict
from lowcode.platform.pagination import PageOf, PageRequest, fetch_page
from lowcode.resources import Resources
from lowcode.sql.errors import InvalidSql, SqlFieldError
from lowcode.sql.models import Analysis, Diagnostic
from lowcode.sql.service import sql_client
from lowcode.workspaces.access import require_member_role, require_role

DIALECT = "postgres"  # datasources are PostgreSQL
# VOLATILE built-ins that only read (their volatility is about their result).
HARMLESS_VOLATILE = frozenset(
    {"random", "clock_timestamp", "timeofday", "gen_random_uuid", "uuid_generate_v4"}
)


async def _load(
    res: Resources, conn: Connection, actor: Actor, dataset_id: uuid.UUID, minimum: str
) -> Dataset:
    row = await res.queries.datasets.get_dataset_for_member(
        conn, dataset_id=dataset_id, user_id=actor.user_id
    )
    row = require_member_role(row, minimum, DatasetNotFound, "dataset", dataset_id)
    return Dataset.from_row(row)


def _refusal(diagnostics: list[Diagnostic], detail: str) -> DatasetNotReadOnly:
    return DatasetNotReadOnly(
        detail,
        errors=[
            SqlFieldError("sql", d.message, "body", d.code, d.severity, d) for d in diagnostics
        ],
    )


async def _check_read_only(res: Resources, target: ConnectionTarget, analysis: Analysis) -> None:
    problems: list[Diagnostic] = []
    if analysis.kind != "select":
        problems.append(
            Diagnostic(
                "error", "NOT_A_QUERY", f"a dataset is a query; this is {analysis.kind.upper()}"
            )
        )
    for table in analysis.written_tables:
        problems.append(
            Diagnostic("error", "WRITES_TABLE", f"writes or locks table {table.name}", table.span)
        )
    called = {f.name.lower(): f for f in analysis.functions if f.user_defined}
    volatile = await volatile_functions(res, target, sorted(called)) if called else set()
    for name in sorted(volatile - HARMLESS_VOLATILE):
        problems.append(
            Diagnostic(
                "error",
                "VOLATILE_FUNCTION",
                f"function {name}() is VOLATILE on the datasource and may write",
                called[name].span,
            )
        )
    if problems:
        raise _refusal(problems, f"a dataset must be one read-only query: {problems[0].message}")


async def checked_columns(
    res: Resources, target: ConnectionTarget, sql: str
) -> list[dict[str, str]]:
    """Validate `sql` against the datasource's live catalog; its output columns."""
    catalog = await live_catalog(res, target)
    analysis = await sql_client(res).validate(sql, DIALECT, catalog)
    if analysis.statement_count == 1:
        # Writing is the first thing to refuse, even when the SQL also has
        # other errors (e.g. a column of a data-modifying CTE's result).
        await _check_read_only(res, target, analysis)
    if analysis.errors:
        raise InvalidSql(analysis.diagnostics)
    return [c.to_api() for c in analysis.output_columns]


async def list_datasets(
    res: Resources,
    actor: Actor,
    workspace_id: uuid.UUID,
    page: PageRequest,
    datasource_id: uuid.UUID | None = None,
) -> PageOf[Dataset]:
    q = res.queries.datasets
    async with res.pool.acquire() as conn:
        await require_role(res, conn, actor, workspace_id, "viewer")
        return await fetch_page(
            page,
            q.list_datasets(
                conn,
                workspace_id=workspace_id,
                datasource_id=datasource_id,
                limit=page.limit,
                offset=page.offset,
            ),
            Dataset.from_row,
            lambda: q.count_datasets(conn, workspace_id=workspace_id, datasource_id=datasource_id),
        )


async def create_dataset(
    res: Resources,
    actor: Actor,
    workspace_id: uuid.UUID,
    *,
    datasource_id: uuid.UUID,
    name: str,
    description: str,
    sql: str,
) -> Dataset:
    """Editors add a dataset; its SQL must validate and only read."""
    async with res.pool.acquire() as conn:
        await require_role(res, conn, actor, workspace_id, "editor")
        target = await target_in_workspace(res, conn, workspace_id, datasource_id)
    # The peer and the datasource are called with no connection of ours held.
    columns = await checked_columns(res, target, sql)
    async with transaction(res.pool) as conn:
        await require_role(res, conn, actor, workspace_id, "editor")
        # A name taken (CONFLICT) or the datasource deleted meanwhile
        # (DATASOURCE_NOT_FOUND): datasets/errors.py.
        row = await res.queries.datasets.insert_dataset(
            conn,
            workspace_id=workspace_id,
            datasource_id=datasource_id,
            name=name.strip(),
            description=description,
            sql=sql,
            columns=columns,
            created_by=actor.user_id,
        )
    return Dataset.from_row(row)


async def get_dataset(res: Resources, actor: Actor, dataset_id: uuid.UUID) -> Dataset:
    async with res.pool.acquire() as conn:
        return await _load(res, conn, actor, dataset_id, "viewer")


async def update_dataset(
    res: Resources,
    actor: Actor,
    dataset_id: uuid.UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    sql: str | None = None,
    expected_version: int | None = None,
) -> Dataset:
    """Editors rename, describe or change the SQL (validated again)."""
    columns: list[dict[str, str]] | None = None
    if sql is not None:
        async with res.pool.acquire() as conn:
            current = await _load(res, conn, actor, dataset_id, "editor")
            target = await connection_target(res, conn, current.datasource_id)
        columns = await checked_columns(res, target, sql)
    q = res.queries.datasets
    async with transaction(res.pool) as conn:
        await _load(res, conn, actor, dataset_id, "editor")
        # A name taken: CONFLICT (datasets/errors.py).
        row = await q.update_dataset(
            conn,
            dataset_id=dataset_id,
            name=name.strip() if name else None,
            description=description,
            sql=sql,
            columns=columns,
            expected_version=expected_version,
            updated_by=actor.user_id,
        )
        if row is None:
            raise VersionConflict(await q.get_dataset_version(conn, dataset_id=dataset_id))
    return Dataset.from_row(row)


async def delete_dataset(res: Resources, actor: Actor, dataset_id: uuid.UUID) -> None:
    """Owners delete a dataset no sync job reads (else DATASET_IN_USE)."""
    async with transaction(res.pool) as conn:
        await _load(res, conn, actor, dataset_id, "owner")
        # Still read by a sync job: DATASET_IN_USE (datasets/errors.py).
        await res.queries.datasets.delete_dataset(conn, dataset_id=dataset_id)


async def preview_dataset(
    res: Resources, actor: Actor, dataset_id: uuid.UUID, limit: int
) -> Preview:
    """The first `limit` rows, run read-only on the datasource (members)."""
    async with res.pool.acquire() as conn:
        dataset = await _load(res, conn, actor, dataset_id, "viewer")
        target = await connection_target(res, conn, dataset.datasource_id)
    return await run_preview(res, target, dataset.sql, limit)
