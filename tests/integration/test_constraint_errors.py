"""The contexts' constraint → AppError maps against the migrated schema."""

import asyncpg
import pytest

from lowcode.constraint_errors import CONSTRAINT_ERRORS
from lowcode.datasets.errors import DatasetInUse
from lowcode.datasources.errors import DatasourceInUse, DatasourceNotFound
from lowcode.platform.db import QueryObserver, load_queries
from lowcode.platform.errors import AppError, Conflict
from lowcode.settings import PROJECT_ROOT
from lowcode_gen.queries import ROW_TYPES
from tests.support import unique_email


def mapped_queries():
    return load_queries(
        PROJECT_ROOT / "queries",
        observer=QueryObserver(None, None, 1e9),
        row_types=ROW_TYPES,
        constraint_errors=CONSTRAINT_ERRORS,
    )


async def test_every_registered_name_is_a_constraint_or_unique_index_of_the_schema(conn):
    """A misspelt name would never match, and its violation would stay a 500."""
    existing = {
        r[0]
        for r in await conn.fetch(
            "SELECT conname FROM pg_constraint"
            " UNION SELECT relname FROM pg_class WHERE relkind = 'i'"
        )
    }
    registered = {name for errors in CONSTRAINT_ERRORS.values() for name in errors}
    assert registered - existing == set()
    assert set(CONSTRAINT_ERRORS) <= {p.name for p in (PROJECT_ROOT / "queries").iterdir()}


def test_every_factory_builds_an_app_error():
    violation = asyncpg.UniqueViolationError("duplicate key")
    for errors in CONSTRAINT_ERRORS.values():
        for factory in errors.values():
            assert isinstance(factory(violation, {}), AppError)


async def _workspace_with_datasource(q, conn) -> tuple:
    user = await q.identity.insert_user(
        conn, email=unique_email(), password_hash="x", display_name="Ada", role="user"
    )
    ws = await q.workspaces.insert_workspace(conn, name="w", description="", created_by=user.id)
    ds = await _datasource(q, conn, user, ws, "db")
    return user, ws, ds


async def _datasource(q, conn, user, ws, name: str):
    return await q.datasources.insert_datasource(
        conn, workspace_id=ws.id, name=name, description="", host="h", port=5432,
        database="d", username="u", password_ciphertext=None, ssl_mode="prefer",
        created_by=user.id,
    )  # fmt: skip


async def _dataset(q, conn, user, ws, ds, name: str):
    return await q.datasets.insert_dataset(
        conn, workspace_id=ws.id, datasource_id=ds.id, name=name, description="",
        sql="SELECT 1", columns="[]", created_by=user.id,
    )  # fmt: skip


async def test_names_taken_in_a_workspace_are_conflicts(conn):
    q = mapped_queries()
    user, ws, ds = await _workspace_with_datasource(q, conn)
    async with conn.transaction():
        await _dataset(q, conn, user, ws, ds, "sales")
    with pytest.raises(Conflict) as taken:
        async with conn.transaction():
            await _dataset(q, conn, user, ws, ds, "sales")
    assert taken.value.code == "CONFLICT"
    # The query's parameters reach the factory: the detail names what collided.
    assert "'sales'" in str(taken.value.detail), taken.value.detail
    with pytest.raises(Conflict):
        async with conn.transaction():
            await _datasource(q, conn, user, ws, "db")


async def test_a_foreign_key_means_in_use_to_the_parent_and_not_found_to_the_child(conn):
    q = mapped_queries()
    user, ws, ds = await _workspace_with_datasource(q, conn)
    async with conn.transaction():
        await _dataset(q, conn, user, ws, ds, "sales")
    with pytest.raises(DatasourceInUse):
        async with conn.transaction():
            await q.datasources.delete_datasource(conn, datasource_id=ds.id)
    other = await _datasource(q, conn, user, ws, "gone")
    await q.datasources.delete_datasource(conn, datasource_id=other.id)
    with pytest.raises(DatasourceNotFound) as gone:
        async with conn.transaction():
            await _dataset(q, conn, user, ws, other, "orphan")
    assert str(other.id) in str(gone.value.detail), gone.value.detail


def test_a_dataset_read_by_a_sync_job_is_in_use():
    error = CONSTRAINT_ERRORS["datasets"]["sync_jobs_source_dataset_id_fkey"](
        asyncpg.ForeignKeyViolationError("still referenced"), {}
    )
    assert isinstance(error, DatasetInUse) and error.status == 409
