"""A datasource's live catalog (tables → columns → types) from its
information_schema, cached briefly per datasource version (the cache lives
with the datasource's pool: `pools.CatalogCache`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lowcode.datasources.errors import SQL_ERRORS, DatasourceUnreachable
from lowcode.datasources.models import ConnectionTarget
from lowcode.platform.db import Connection
from lowcode.sql.models import Catalog, CatalogColumn, CatalogTable

if TYPE_CHECKING:
    from lowcode.resources import Resources

# A catalog beyond this is cut (and validation may then report a real table
# as unknown); it bounds the memory and the request sent to the SQL service.
MAX_CATALOG_COLUMNS = 50_000


def _tables(rows: Iterable[tuple[str, str, str, str, bool]]) -> tuple[CatalogTable, ...]:
    grouped: dict[tuple[str, str], list[CatalogColumn]] = {}
    for schema, table, column, typ, nullable in rows:
        grouped.setdefault((schema, table), []).append(CatalogColumn(column, typ, nullable))
    return tuple(CatalogTable(s, t, tuple(cols)) for (s, t), cols in grouped.items())


async def read_catalog(res: Resources, conn: Connection) -> Catalog:
    q = res.queries.datasources
    default = await q.get_current_schema(conn) or "public"
    rows = [
        (
            r.schema_name or "",
            r.table_name or "",
            r.column_name or "",
            r.data_type or "",
            bool(r.nullable),
        )
        async for r in q.list_catalog_columns(conn, max_columns=MAX_CATALOG_COLUMNS)
    ]
    return Catalog(default, _tables(rows))


async def live_catalog(res: Resources, target: ConnectionTarget) -> Catalog:
    """The datasource's catalog, from the cache when it is fresh."""
    cache = res.datasource_pools.catalogs
    cached = cache.get(target.id, target.version)
    if cached is not None:
        return cached
    async with res.datasource_pools.acquire(target) as conn:
        try:
            catalog = await read_catalog(res, conn)
        except SQL_ERRORS as e:
            raise DatasourceUnreachable(f"cannot read the datasource's catalog: {e}") from e
    cache.put(target.id, target.version, catalog)
    return catalog


async def volatile_functions(
    res: Resources, target: ConnectionTarget, names: list[str]
) -> set[str]:
    """Which of `names` have a VOLATILE overload on the datasource (may write)."""
    if not names:
        return set()
    async with res.datasource_pools.acquire(target) as conn:
        rows = res.queries.datasources.list_volatile_functions(conn, names=names)
        return {r.name async for r in rows if r.name}
