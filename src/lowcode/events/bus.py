"""This node's side of the notification fan-out: one pattern subscription in
Redis, and the local `/ws/events` connections of each user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict

from redis.exceptions import RedisError

from lowcode.collab.connection import Connection
from lowcode.events.publish import user_channel
from lowcode.platform.cache import create_redis
from lowcode.resources import Resources

log = logging.getLogger("lowcode.events.bus")

RETRY_S = (0.5, 1, 2, 5)


class EventBus:
    def __init__(self, res: Resources) -> None:
        self.res = res
        # The subscription holds its connection for good: give it its own client
        # so it never takes a slot from the pool that requests draw from.
        assert res.settings.redis_url
        self._redis = create_redis(res.settings.redis_url, max_connections=2)
        self.connections: dict[str, set[Connection]] = defaultdict(set)
        self._prefix = user_channel(res, "")
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="events-listen")

    async def stop(self, code: int = 1012) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._prefix + "*")
                self.subscribed.set()
                attempt = 0
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
        user = channel.decode()[len(self._prefix) :]
        frame = data.decode()
        for conn in list(self.connections.get(user, ())):
            if not conn.offer(frame):
                self.remove(uuid.UUID(user), conn)
