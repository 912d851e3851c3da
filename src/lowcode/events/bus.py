"""This node's side of the notification fan-out: one pattern subscription in
Redis, and the local `/ws/events` connections of each user. The same
subscription carries access changes (`publish.access_changed`), handed to the
hub's rooms and checked against this node's `/ws/events` sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from typing import Protocol

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from lowcode.events.publish import access_channel, user_channel
from lowcode.identity.authenticate import session_live
from lowcode.platform.cache import create_redis
from lowcode.platform.subscriptions import stop_reader
from lowcode.platform.websocket.access import SESSION_ENDED
from lowcode.platform.websocket.connection import Connection
from lowcode.platform.websocket.limits import Admission
from lowcode.platform.websocket.protocol import NOTIFICATION, Frame
from lowcode.resources import Resources

log = logging.getLogger("lowcode.events.bus")

RETRY_S = (0.5, 1, 2, 5)


class PageSockets(Protocol):
    """The page sockets' hub (`collab.hub.Hub`) as the bus needs it, named
    here so `events` does not depend on `collab`: it re-checks its rooms'
    sockets when access changes, and it admits sockets of both kinds."""

    admission: Admission

    def access_changed(
        self,
        *,
        users: frozenset[uuid.UUID] | None = None,
        pages: frozenset[uuid.UUID] = frozenset(),
        workspaces: frozenset[uuid.UUID] = frozenset(),
        everyone: bool = False,
    ) -> None: ...


class EventBus:
    def __init__(self, res: Resources, hub: PageSockets) -> None:
        self.res, self.hub = res, hub
        # One cap per user on this process for page and event sockets together.
        self.admission = hub.admission
        # The subscription holds its connection for good: give it its own client
        # so it never takes a slot from the pool that requests draw from.
        assert res.settings.redis_url
        self._redis = create_redis(res.settings.redis_url, max_connections=2)
        self.connections: dict[str, set[Connection]] = defaultdict(set)
        self._prefix = user_channel(res, "")
        self._access = access_channel(res).encode()
        self._task: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()
        self._pubsub: PubSub | None = None
        self._recheck: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="events-listen")
        self._recheck = asyncio.create_task(self._recheck_forever(), name="events-recheck")

    async def _recheck_forever(self) -> None:
        """Sessions ended while an announcement was lost are caught here (the
        hub does the same for page sockets)."""
        while True:
            await asyncio.sleep(self.res.settings.ws_access_recheck_s)
            conns = [c for group in self.connections.values() for c in group]
            if conns:
                await self._check_sessions(conns)

    async def stop(self, code: int = 1012) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recheck
        if self._task:
            await stop_reader(self._task, self._pubsub, "events")
        for conns in list(self.connections.values()):
            for conn in list(conns):
                conn.close(code, "server restarting")
        self.connections.clear()
        await self._redis.aclose()

    def add(self, user_id: uuid.UUID, conn: Connection) -> None:
        self.connections[str(user_id)].add(conn)

    def remove(self, user_id: uuid.UUID, conn: Connection) -> None:
        conns = self.connections.get(str(user_id))
        if conns is not None:
            conns.discard(conn)
            if not conns:
                self.connections.pop(str(user_id), None)

    async def _listen_forever(self) -> None:
        attempt = 0
        while True:
            pubsub = self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._prefix + "*")
                await pubsub.subscribe(self._access.decode())
                self.subscribed.set()
                attempt = 0
                # Changes announced while we were not subscribed are lost:
                # every socket on this node is checked again.
                self._access_changed(None)
                async for message in pubsub.listen():
                    self._deliver(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as e:
                self.subscribed.clear()
                log.warning("event subscription lost", extra={"error": str(e)})
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
            attempt += 1

    def _deliver(self, message: dict[str, object]) -> None:
        channel = message.get("channel")
        data = message.get("data")
        if not isinstance(channel, bytes) or not isinstance(data, bytes):
            return
        if channel == self._access:
            try:
                self._access_changed(json.loads(data))
            except (ValueError, TypeError, AttributeError):
                log.warning("bad access-change message")
            return
        user = channel.decode()[len(self._prefix) :]
        frame = Frame(NOTIFICATION, data.decode())
        for conn in list(self.connections.get(user, ())):
            if not conn.offer(frame):
                self.remove(uuid.UUID(user), conn)

    # ---- live authorisation -------------------------------------------------------

    def _access_changed(self, message: dict[str, list[str]] | None) -> None:
        """An access change (None: any may have been missed) for this node's sockets."""
        users = None if message is None else frozenset(uuid.UUID(u) for u in message["users"])
        if message is None:
            self.hub.access_changed(everyone=True)
        else:
            self.hub.access_changed(
                users=users,
                pages=frozenset(uuid.UUID(p) for p in message["pages"]),
                workspaces=frozenset(uuid.UUID(w) for w in message["workspaces"]),
            )
        conns = [
            c
            for user, group in self.connections.items()
            if users is None or uuid.UUID(user) in users
            for c in group
        ]
        if conns:
            task = asyncio.create_task(self._check_sessions(conns), name="events-access")
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    async def _check_sessions(self, conns: list[Connection]) -> None:
        """Close the `/ws/events` sockets whose session ended (4401)."""
        for conn in conns:
            if conn.closed or conn.session_id is None:
                continue
            try:
                live = await session_live(self.res, conn.session_id)
            except Exception as e:
                log.warning("session check failed", extra={"error": str(e)})
                return
            if not live:
                conn.close(*SESSION_ENDED)
