"""Feature flags: the one evaluation function, and the admin use cases.

Admin changes are written with a `NOTIFY` in the same transaction, so every
node (this one included) reloads its copy once the change is committed; this
node also reloads before answering, so an admin reads their own write.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from lowcode.flags.errors import FlagNotFound
from lowcode.flags.evaluation import Evaluation, Flag
from lowcode.flags.store import FlagStore
from lowcode.identity.models import Actor
from lowcode.platform.db import transaction
from lowcode.platform.pagination import PageOf, PageRequest
from lowcode.resources import Resources

log = logging.getLogger("lowcode.flags")


def evaluate(
    res: Resources, key: str, workspace_id: uuid.UUID, default: bool = False
) -> Evaluation:
    """Flag `key` for a workspace — the one way code reads a flag.

    From this process's copy of the flags (no I/O). An unknown flag gives
    `default` with reason ERROR and error code FLAG_NOT_FOUND.
    """
    return store_of(res).evaluate(key, workspace_id, default)


def store_of(res: Resources) -> FlagStore:
    if res.flags is None:
        raise RuntimeError("flags are not loaded in this process (see lowcode.toggles)")
    return res.flags


@dataclass(frozen=True, slots=True)
class FlagWrite:
    description: str
    enabled: bool
    default_variant: str
    allow_workspaces: list[uuid.UUID]
    deny_workspaces: list[uuid.UUID]
    rollout_percentage: int


async def list_flags(res: Resources, page: PageRequest) -> PageOf[Flag]:
    """Database flags and the settings' defaults no database flag replaces, by key."""
    async with res.pool.acquire() as conn:
        rows = {r.key: Flag.from_row(r) async for r in res.queries.flags.list_flags(conn)}
    defaults = (store_of(res).default_for(k) for k in res.settings.flag_defaults)
    merged = {f.key: f for f in defaults if f is not None} | rows
    ordered = [merged[k] for k in sorted(merged)]
    return PageOf(ordered[page.offset : page.offset + page.limit], page, len(ordered))


async def get_flag(res: Resources, key: str) -> Flag:
    async with res.pool.acquire() as conn:
        row = await res.queries.flags.get_flag(conn, key=key)
    if row is not None:
        return Flag.from_row(row)
    default = store_of(res).default_for(key)
    if default is None:
        raise FlagNotFound(key)
    return default


async def put_flag(res: Resources, actor: Actor, key: str, spec: FlagWrite) -> tuple[Flag, bool]:
    """Create or replace a flag; True when it was created."""
    q = res.queries.flags
    async with transaction(res.pool) as conn:
        row = await q.upsert_flag(
            conn,
            key=key,
            description=spec.description,
            enabled=spec.enabled,
            default_variant=spec.default_variant,
            allow_workspaces=spec.allow_workspaces,
            deny_workspaces=spec.deny_workspaces,
            rollout_percentage=spec.rollout_percentage,
            actor=actor.user_id,
        )
        await q.notify_flags_changed(conn)
    flag = Flag.from_row(row)
    log.info(
        "flag changed",
        extra={"flag": key, "actor": str(actor.user_id), "inserted": row.created, **_audit(flag)},
    )
    await store_of(res).reload(res)
    return flag, row.created


async def delete_flag(res: Resources, actor: Actor, key: str) -> None:
    q = res.queries.flags
    async with transaction(res.pool) as conn:
        if await q.delete_flag(conn, key=key) == 0:
            raise FlagNotFound(key)
        await q.notify_flags_changed(conn)
    log.info("flag deleted", extra={"flag": key, "actor": str(actor.user_id)})
    await store_of(res).reload(res)


def _audit(flag: Flag) -> dict[str, object]:
    return {
        "enabled": flag.enabled,
        "default_variant": flag.default_variant,
        "rollout_percentage": flag.rollout_percentage,
        "allow_count": len(flag.allow_workspaces),
        "deny_count": len(flag.deny_workspaces),
    }
