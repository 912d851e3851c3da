"""SQL use cases: parse, validate (against a datasource's live catalog or an
inline one) and transpile, through the SQL service peer. SQL with errors is
INVALID_SQL (422) listing every error with its position."""

from __future__ import annotations

import uuid

from lowcode.datasources.catalog import live_catalog
from lowcode.datasources.service import connection_target, load_for_member
from lowcode.identity.models import Actor
from lowcode.platform.errors import FieldError, Invalid
from lowcode.resources import Resources
from lowcode.sql.client import SqlClient
from lowcode.sql.errors import InvalidSql
from lowcode.sql.models import Analysis, Catalog, Transpiled


def sql_client(res: Resources) -> SqlClient:
    return SqlClient(res.peers.calcite)


async def parse_sql(res: Resources, sql: str, dialect: str) -> Analysis:
    result = await sql_client(res).parse(sql, dialect)
    if result.errors:
        raise InvalidSql(result.diagnostics)
    return result


async def datasource_catalog(res: Resources, actor: Actor, datasource_id: uuid.UUID) -> Catalog:
    """The live catalog of a datasource the actor can see (viewer or above)."""
    async with res.pool.acquire() as conn:
        await load_for_member(res, conn, actor, datasource_id, "viewer")
        target = await connection_target(res, conn, datasource_id)
    return await live_catalog(res, target)


async def validate_sql(
    res: Resources,
    actor: Actor,
    sql: str,
    dialect: str,
    *,
    datasource_id: uuid.UUID | None,
    catalog: Catalog | None,
) -> Analysis:
    """Validate against exactly one of a datasource's catalog or an inline one."""
    if (datasource_id is None) == (catalog is None):
        raise Invalid(
            "give exactly one of datasource_id and catalog",
            errors=[FieldError("datasource_id", "give this or catalog, not both")],
        )
    if datasource_id is not None:
        catalog = await datasource_catalog(res, actor, datasource_id)
    assert catalog is not None
    result = await sql_client(res).validate(sql, dialect, catalog)
    if result.errors:
        raise InvalidSql(result.diagnostics)
    return result


async def transpile_sql(
    res: Resources, sql: str, source: str, target: str, *, pretty: bool
) -> Transpiled:
    result = await sql_client(res).transpile(sql, source, target, pretty=pretty)
    if any(d.is_error for d in result.diagnostics):
        raise InvalidSql(result.diagnostics)
    return result
