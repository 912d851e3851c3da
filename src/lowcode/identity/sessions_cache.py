"""Session state for every authenticated request: Redis first, Postgres the truth.

An access token is only as good as its session: a revoked session or a
disabled user ends it. Checking Postgres on every request would cost a query,
so the state is cached in Redis for `SESSION_CACHE_TTL_S`.

Ordering matters, because a request may read Postgres just before a
revocation commits and write its (stale) answer to the cache just after:
- a cache miss fills the cache only if nothing is there (`SET NX`);
- a revocation or a disable overwrites the entry with "inactive" after its
  transaction commits (plain `SET`);
- a role change deletes the entry after its commit, and the next request
  reads Postgres: writing "active with the new role" instead could land after
  a concurrent revocation's "inactive" and bring the session back.
So a stale "active" can never replace a revocation, and revocation takes
effect at once. The TTL bounds staleness if a write is ever lost; when Redis
is unreachable, Postgres answers. In front of Redis, each process keeps the
answers for a few seconds (`local_sessions`), evicted on every node through
Redis pub/sub when a session changes.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import RedisError

from lowcode.identity.local_sessions import eviction_channel
from lowcode.resources import Resources
from lowcode_gen.queries.identity import GetSessionStateRow

log = logging.getLogger("lowcode.identity.sessions")


@dataclass(frozen=True, slots=True)
class SessionState:
    user_id: uuid.UUID
    role: str
    active: bool


def is_live(row: GetSessionStateRow) -> bool:
    """A session row that still stands: not revoked, its user not disabled, not expired."""
    return row.revoked_at is None and not row.disabled and row.expires_at > datetime.now(UTC)


def _key(res: Resources, session_id: uuid.UUID) -> str:
    return res.settings.redis_key("session", str(session_id))


async def session_state(res: Resources, session_id: uuid.UUID) -> SessionState | None:
    local = res.local_sessions
    if local is not None:
        held = local.get(session_id)
        if held is not None:
            return held  # type: ignore[no-any-return]
        generation = local.generation
    state = await _shared_state(res, session_id)
    if local is not None and state is not None:
        local.put(session_id, state, generation)
    return state


async def _shared_state(res: Resources, session_id: uuid.UUID) -> SessionState | None:
    key = _key(res, session_id)
    try:
        cached = await res.redis.get(key)
    except RedisError as e:
        log.warning("session cache unavailable, asking Postgres", extra={"error": str(e)})
        cached = None
    if cached:
        res.metrics.cache_requests.labels("session", "hit").inc()
        data = json.loads(cached)
        return SessionState(uuid.UUID(data["u"]), data["r"], data["a"])
    res.metrics.cache_requests.labels("session", "miss").inc()
    async with res.pool.acquire() as conn:
        row = await res.queries.identity.get_session_state(conn, session_id=session_id)
    if row is None:
        return None
    state = SessionState(row.user_id, row.role, is_live(row))
    await _store(res, session_id, state, only_if_missing=True)
    return state


async def _store(
    res: Resources, session_id: uuid.UUID, state: SessionState, *, only_if_missing: bool
) -> None:
    # An inactive session never becomes active again; keep that answer as long
    # as any access token of it could still be presented.
    ttl = (
        res.settings.session_cache_ttl_s
        if state.active
        else res.settings.access_token_ttl_s + res.settings.jwt_leeway_s
    )
    value = json.dumps({"u": str(state.user_id), "r": state.role, "a": state.active})
    try:
        await res.redis.set(_key(res, session_id), value, ex=ttl, nx=only_if_missing)
    except RedisError as e:
        if not only_if_missing:
            raise
        log.warning("could not cache session state", extra={"error": str(e)})


async def revoke_cached(
    res: Resources, user_id: uuid.UUID, session_ids: Iterable[uuid.UUID]
) -> None:
    """After a revocation committed: every cached copy says "inactive" now."""
    await _overwrite(res, session_ids, SessionState(user_id, "user", active=False))


async def update_cached(
    res: Resources, user_id: uuid.UUID, role: str, session_ids: Iterable[uuid.UUID]
) -> None:
    """After a role change committed: the sessions' cached state is dropped, so
    their next request reads the new role from Postgres. Never written as
    "active": that could overwrite a revocation committed meanwhile."""
    ids = list(session_ids)
    if not ids:
        return
    try:
        await res.redis.delete(*[_key(res, sid) for sid in ids])
        await _evict_everywhere(res, ids)
    except RedisError as e:
        log.error(
            "could not drop cached sessions; they expire within the cache TTL",
            extra={"error": str(e), "sessions": len(ids), "user_id": str(user_id), "role": role},
        )


async def _overwrite(res: Resources, session_ids: Iterable[uuid.UUID], state: SessionState) -> None:
    ids = list(session_ids)
    try:
        for sid in ids:
            await _store(res, sid, state, only_if_missing=False)
        await _evict_everywhere(res, ids)
    except RedisError as e:
        log.error(
            "could not update cached sessions; they expire within the cache TTL",
            extra={"error": str(e), "sessions": len(ids)},
        )


async def _evict_everywhere(res: Resources, ids: list[uuid.UUID]) -> None:
    """After Redis holds the new state (or none): every node's in-process copy
    goes (published from any process: the worker and the CLI revoke too)."""
    if res.local_sessions is not None:
        res.local_sessions.evict(ids)
    if ids:
        await res.redis.publish(eviction_channel(res.settings), ",".join(str(s) for s in ids))
