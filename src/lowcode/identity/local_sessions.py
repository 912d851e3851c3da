"""An in-process copy of session state for a few seconds, evicted on every node
within a second when a session is revoked or changed.

Every authenticated request needs its session's state (`sessions_cache`);
asking Redis each time costs a round trip per request. Here each process keeps
the answers it got for `SESSION_LOCAL_TTL_S`, and every change to a session
(revocation, disabled account, role change) is published on one Redis channel
after the Redis entry is overwritten (`sessions_cache._overwrite`); every node
drops those sessions as the message arrives.

Why this cannot resurrect a revoked session:
- An entry is used only while this process is subscribed. While the
  subscription is down (messages would be lost) nothing is served from here,
  and everything is dropped when it comes back.
- A fill that began before an eviction arrived is not stored (`generation`):
  its answer may be from before the change.
- The publisher writes the new state to Redis first, then publishes, so a
  lookup that begins after the message arrived reads the new state.
The TTL is the last bound: a message lost in a way the subscription did not
notice is forgotten within seconds, as with the Redis TTL behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from lowcode.platform.cache import create_redis
from lowcode.platform.reconnect import reconnect_forever
from lowcode.platform.subscriptions import stop_reader
from lowcode.settings import Settings

log = logging.getLogger("lowcode.identity.local_sessions")

RETRY_S = (0.2, 0.5, 1, 2)
# Bounds memory: beyond this many sessions the oldest half is dropped.
MAX_ENTRIES = 50_000


class LocalSessions:
    def __init__(self, redis: Redis, channel: str, ttl_s: float) -> None:
        self._redis = redis
        self.channel = channel
        self.ttl_s = ttl_s
        self._entries: dict[uuid.UUID, tuple[float, Any]] = {}
        # Bumped by every eviction: fills that began before one are not stored.
        self.generation = 0
        self._task: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        # Set while subscribed; entries are served only then.
        self.subscribed = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, session_id: uuid.UUID) -> Any | None:
        if not self.subscribed.is_set():
            return None
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(session_id, None)
            return None
        return entry[1]

    def put(self, session_id: uuid.UUID, state: Any, generation: int) -> None:
        if generation != self.generation or not self.subscribed.is_set():
            return
        if len(self._entries) >= MAX_ENTRIES:
            for key in list(self._entries)[: MAX_ENTRIES // 2]:
                del self._entries[key]
        self._entries[session_id] = (time.monotonic() + self.ttl_s, state)

    def evict(self, session_ids: list[uuid.UUID] | None) -> None:
        """Drop these sessions (None: all of them)."""
        self.generation += 1
        if session_ids is None:
            self._entries.clear()
            return
        for sid in session_ids:
            self._entries.pop(sid, None)

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._follow_forever(), name="session-evictions")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_reader(self._task, self._pubsub, "session evictions")
            self._task = None
        self.subscribed.clear()
        self.evict(None)

    async def _follow_forever(self) -> None:
        await reconnect_forever(
            self._follow_once, delays_s=RETRY_S, log=log, lost="session evictions lost"
        )

    async def _follow_once(self, _connected: Callable[[], None]) -> None:
        pubsub = self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            # What was cached before this subscription may have missed messages.
            self.evict(None)
            self.subscribed.set()
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                self.evict(_session_ids(message.get("data")))
        finally:
            # Whatever ended it, messages may have been missed from here on.
            self.subscribed.clear()
            self.evict(None)
            # The connection may be the one that just failed; whatever closing
            # it raises, the next round opens a new one.
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]


def eviction_channel(settings: Settings) -> str:
    """The Redis channel every change to a session is announced on."""
    return settings.redis_key("session-evictions")


def _session_ids(data: Any) -> list[uuid.UUID] | None:
    """The ids a message names; None (evict everything) for one that does not parse."""
    text = data.decode() if isinstance(data, bytes) else str(data)
    try:
        return [uuid.UUID(part) for part in text.split(",") if part]
    except ValueError:
        return None


@contextlib.asynccontextmanager
async def held_sessions(settings: Settings) -> AsyncIterator[LocalSessions | None]:
    """The API's in-process session copies, following evictions on a Redis
    client of its own (a subscription holds its connection); built before
    `Resources`, which holds them."""
    if settings.session_local_ttl_s <= 0 or not settings.redis_url:
        yield None
        return
    redis = create_redis(settings.redis_url, max_connections=2)
    local = LocalSessions(redis, eviction_channel(settings), settings.session_local_ttl_s)
    await local.start()
    try:
        yield local
    finally:
        await local.stop()
        await redis.aclose()
