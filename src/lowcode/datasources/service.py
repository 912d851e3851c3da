"""Datasource use cases. Editors create, change and test datasources; owners
delete them; viewers see them, never their passwords (nobody does)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from lowcode.datasources.errors import (
    CONNECT_ERRORS,
    REMOTE_ERRORS,
    DatasourceNotFound,
    DatasourceUnreachable,
    describe_connect_error,
)
from lowcode.datasources.hosts import HostPolicy
from lowcode.datasources.models import ConnectionCheck, ConnectionTarget, Datasource
from lowcode.datasources.pools import connect_once
from lowcode.identity.models import Actor
from lowcode.platform.db import Connection, transaction
from lowcode.platform.errors import VersionConflict
from lowcode.platform.pagination import PageOf, PageRequest, fetch_page
from lowcode.resources import Resources
from lowcode.workspaces.access import require_member_role, require_role

# Marks "the body did not mention the password" apart from "set it to null".
UNCHANGED = object()


@dataclass(frozen=True, slots=True)
class DatasourceFields:
    name: str | None = None
    description: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    username: str | None = None
    ssl_mode: str | None = None


def _policy(res: Resources) -> HostPolicy:
    return res.datasource_pools.policy


async def load_for_member(
    res: Resources, conn: Connection, actor: Actor, datasource_id: uuid.UUID, minimum: str
) -> Datasource:
    """The datasource if the actor's role in its workspace is at least `minimum`;
    non-members get DATASOURCE_NOT_FOUND (404, so existence does not leak)."""
    row = await res.queries.datasources.get_datasource_for_member(
        conn, datasource_id=datasource_id, user_id=actor.user_id
    )
    row = require_member_role(row, minimum, DatasourceNotFound, "datasource", datasource_id)
    return Datasource.from_row(row)


async def connection_target(
    res: Resources, conn: Connection, datasource_id: uuid.UUID
) -> ConnectionTarget:
    """How to connect, the password decrypted (only ever held in memory)."""
    row = await res.queries.datasources.get_datasource_connection(conn, datasource_id=datasource_id)
    if row is None:
        raise DatasourceNotFound(f"no datasource {datasource_id}")
    password = res.passwords.decrypt(row.password_ciphertext) if row.password_ciphertext else None
    return ConnectionTarget(
        row.id, row.version, row.host, row.port, row.database, row.username, row.ssl_mode, password
    )


async def target_in_workspace(
    res: Resources, conn: Connection, workspace_id: uuid.UUID, datasource_id: uuid.UUID
) -> ConnectionTarget:
    """How to connect to a datasource another resource of `workspace_id` names;
    DATASOURCE_NOT_FOUND when it is not one of that workspace's."""
    row = await res.queries.datasources.get_datasource_connection(conn, datasource_id=datasource_id)
    if row is None or row.workspace_id != workspace_id:
        raise DatasourceNotFound(f"no datasource {datasource_id} in this workspace")
    return await connection_target(res, conn, datasource_id)


async def list_datasources(
    res: Resources, actor: Actor, workspace_id: uuid.UUID, page: PageRequest
) -> PageOf[Datasource]:
    q = res.queries.datasources
    async with res.pool.acquire() as conn:
        await require_role(res, conn, actor, workspace_id, "viewer")
        return await fetch_page(
            page,
            q.list_datasources(
                conn, workspace_id=workspace_id, limit=page.limit, offset=page.offset
            ),
            Datasource.from_row,
            lambda: q.count_datasources(conn, workspace_id=workspace_id),
        )


async def create_datasource(
    res: Resources,
    actor: Actor,
    workspace_id: uuid.UUID,
    fields: DatasourceFields,
    password: str | None,
) -> Datasource:
    """Editors add a PostgreSQL datasource; its host is checked against the
    host policy and its password stored encrypted."""
    assert fields.name and fields.host and fields.port and fields.database and fields.username
    _policy(res).check_name(fields.host)
    ciphertext = res.passwords.encrypt(password) if password else None
    async with transaction(res.pool) as conn:
        await require_role(res, conn, actor, workspace_id, "editor")
        # A name taken in the workspace: CONFLICT (datasources/errors.py).
        row = await res.queries.datasources.insert_datasource(
            conn,
            workspace_id=workspace_id,
            name=fields.name.strip(),
            description=fields.description or "",
            host=fields.host,
            port=fields.port,
            database=fields.database,
            username=fields.username,
            password_ciphertext=ciphertext,
            ssl_mode=fields.ssl_mode or "prefer",
            created_by=actor.user_id,
        )
    return Datasource.from_row(row)


async def get_datasource(res: Resources, actor: Actor, datasource_id: uuid.UUID) -> Datasource:
    async with res.pool.acquire() as conn:
        return await load_for_member(res, conn, actor, datasource_id, "viewer")


async def update_datasource(
    res: Resources,
    actor: Actor,
    datasource_id: uuid.UUID,
    fields: DatasourceFields,
    password: str | object | None = UNCHANGED,
    expected_version: int | None = None,
) -> Datasource:
    """Editors change any field; `password` None removes it. The datasource's
    pool and cached catalog are dropped after the commit."""
    if fields.host is not None:
        _policy(res).check_name(fields.host)
    set_password = password is not UNCHANGED
    ciphertext = res.passwords.encrypt(password) if isinstance(password, str) and password else None
    q = res.queries.datasources
    async with transaction(res.pool) as conn:
        await load_for_member(res, conn, actor, datasource_id, "editor")
        # A name taken in the workspace: CONFLICT (datasources/errors.py).
        row = await q.update_datasource(
            conn,
            datasource_id=datasource_id,
            name=fields.name.strip() if fields.name else None,
            description=fields.description,
            host=fields.host,
            port=fields.port,
            database=fields.database,
            username=fields.username,
            set_password=set_password,
            password_ciphertext=ciphertext,
            ssl_mode=fields.ssl_mode,
            expected_version=expected_version,
            updated_by=actor.user_id,
        )
        if row is None:
            raise VersionConflict(await q.get_datasource_version(conn, datasource_id=datasource_id))
    await res.datasource_pools.invalidate(datasource_id)
    return Datasource.from_row(row)


async def delete_datasource(res: Resources, actor: Actor, datasource_id: uuid.UUID) -> None:
    """Owners delete a datasource no dataset uses (else DATASOURCE_IN_USE)."""
    async with transaction(res.pool) as conn:
        await load_for_member(res, conn, actor, datasource_id, "owner")
        # Still used: DATASOURCE_IN_USE (datasources/errors.py).
        await res.queries.datasources.delete_datasource(conn, datasource_id=datasource_id)
    await res.datasource_pools.invalidate(datasource_id)


async def test_datasource(
    res: Resources, actor: Actor, datasource_id: uuid.UUID
) -> ConnectionCheck:
    """Editors check that the datasource answers: a fresh connection with the
    short connect timeout, its server version and the round trip, or why not."""
    async with res.pool.acquire() as conn:
        await load_for_member(res, conn, actor, datasource_id, "editor")
        target = await connection_target(res, conn, datasource_id)
    timeout = res.settings.datasource_connect_timeout_s
    start = time.perf_counter()
    try:
        remote = await connect_once(_policy(res), target, timeout)
    except DatasourceUnreachable as e:  # e.g. the name does not resolve
        elapsed = round((time.perf_counter() - start) * 1000, 2)
        return ConnectionCheck(False, elapsed, error=e.detail)
    except CONNECT_ERRORS as e:
        elapsed = round((time.perf_counter() - start) * 1000, 2)
        return ConnectionCheck(False, elapsed, error=describe_connect_error(e))
    version: str | None = None
    error: str | None = None
    try:
        version = await res.queries.datasources.get_server_version(remote)
    except REMOTE_ERRORS as e:
        error = describe_connect_error(e)
    finally:
        await remote.close(timeout=timeout)
    elapsed = round((time.perf_counter() - start) * 1000, 2)
    return ConnectionCheck(error is None, elapsed, str(version) if version else None, error)
