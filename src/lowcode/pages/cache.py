"""Redis cache of materialised documents, keyed by page id and version.

A version's document never changes once its op has committed, so entries are
never invalidated — a new version is a new key, and old keys expire. Only
committed versions are written. A miss is built by one caller at a time per
key (a Redis lock), so a popular page that just changed is replayed once, not
by every reader at the same moment.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from lowcode.pages.document import Document
from lowcode.platform import jsoncodec
from lowcode.platform.metrics import Metrics
from lowcode.settings import Settings

log = logging.getLogger("lowcode.pages.cache")

BUILD_LOCK_TIMEOUT_S = 10.0
BUILD_WAIT_S = 3.0


class CacheClients(Protocol):
    """What the cache uses of the process's clients (`Resources` is one; this
    module is below it and does not import it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def redis(self) -> Redis: ...
    @property
    def metrics(self) -> Metrics: ...


def _key(clients: CacheClients, page_id: uuid.UUID, version: int) -> str:
    return clients.settings.redis_key("page", str(page_id), "v", str(version))


async def get(clients: CacheClients, page_id: uuid.UUID, version: int) -> Document | None:
    try:
        raw = await clients.redis.get(_key(clients, page_id, version))
    except RedisError as e:
        log.warning("page cache unavailable", extra={"error": str(e)})
        return None
    clients.metrics.cache_requests.labels("page", "hit" if raw else "miss").inc()
    return jsoncodec.loads(raw) if raw else None


async def put(clients: CacheClients, page_id: uuid.UUID, version: int, document: Document) -> None:
    """Cache a version just committed, dropping the one before it: a page keeps
    about one cached document however fast it is written (100 patches a second
    to a 2 MiB page would otherwise pile up 200 MiB a second until the TTL)."""
    try:
        async with clients.redis.pipeline(transaction=False) as pipe:
            pipe.set(
                _key(clients, page_id, version),
                jsoncodec.dumpb(document),
                ex=clients.settings.page_cache_ttl_s,
            )
            if version > 1:
                pipe.delete(_key(clients, page_id, version - 1))
            await pipe.execute()
    except RedisError as e:
        log.warning("could not cache page", extra={"error": str(e)})


async def get_or_build(
    clients: CacheClients,
    page_id: uuid.UUID,
    version: int,
    build: Callable[[], Awaitable[Document]],
) -> Document:
    cached = await get(clients, page_id, version)
    if cached is not None:
        return cached
    lock = clients.redis.lock(
        _key(clients, page_id, version) + ":build",
        timeout=BUILD_LOCK_TIMEOUT_S,
        blocking_timeout=BUILD_WAIT_S,
    )
    try:
        acquired = await lock.acquire()
    except RedisError:
        acquired = False
    try:
        if acquired:
            # Someone may have built it while we waited for the lock.
            cached = await get(clients, page_id, version)
            if cached is not None:
                return cached
        document = await build()
        await put(clients, page_id, version, document)
        return document
    finally:
        if acquired:
            # Expired meanwhile: harmless, the entry is written.
            with contextlib.suppress(LockError, RedisError):
                await lock.release()


class LocalDocuments:
    """The documents of page versions this process read lately, in memory.

    A version's document never changes, so nothing here is ever stale: a read
    of a page that has ops after its snapshot costs neither a Redis round trip
    nor a decode when the version is held. Bounded by the documents' encoded
    size (least recently read go first). The documents are shared between
    readers: they are for answering reads, and nothing mutates them."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[uuid.UUID, int], tuple[Document, int]] = OrderedDict()
        self._bytes = 0

    def get(self, page_id: uuid.UUID, version: int) -> Document | None:
        entry = self._entries.get((page_id, version))
        if entry is None:
            return None
        self._entries.move_to_end((page_id, version))
        return entry[0]

    def put(self, page_id: uuid.UUID, version: int, document: Document) -> None:
        size = len(jsoncodec.dumpb(document))
        if size > self.max_bytes or (page_id, version) in self._entries:
            return
        self._entries[(page_id, version)] = (document, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            _key, (_doc, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped
