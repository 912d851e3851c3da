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
from collections.abc import Awaitable, Callable

from redis.exceptions import LockError, RedisError

from lowcode.pages.document import Document
from lowcode.platform import jsoncodec
from lowcode.resources import Resources

log = logging.getLogger("lowcode.pages.cache")

BUILD_LOCK_TIMEOUT_S = 10.0
BUILD_WAIT_S = 3.0


def _key(res: Resources, page_id: uuid.UUID, version: int) -> str:
    return res.settings.redis_key("page", str(page_id), "v", str(version))


async def get(res: Resources, page_id: uuid.UUID, version: int) -> Document | None:
    try:
        raw = await res.redis.get(_key(res, page_id, version))
    except RedisError as e:
        log.warning("page cache unavailable", extra={"error": str(e)})
        return None
    res.metrics.cache_requests.labels("page", "hit" if raw else "miss").inc()
    return jsoncodec.loads(raw) if raw else None


async def put(res: Resources, page_id: uuid.UUID, version: int, document: Document) -> None:
    """Cache a version just committed, dropping the one before it: a page keeps
    about one cached document however fast it is written (100 patches a second
    to a 2 MiB page would otherwise pile up 200 MiB a second until the TTL)."""
    try:
        async with res.redis.pipeline(transaction=False) as pipe:
            pipe.set(
                _key(res, page_id, version),
                jsoncodec.dumpb(document),
                ex=res.settings.page_cache_ttl_s,
            )
            if version > 1:
                pipe.delete(_key(res, page_id, version - 1))
            await pipe.execute()
    except RedisError as e:
        log.warning("could not cache page", extra={"error": str(e)})


async def get_or_build(
    res: Resources,
    page_id: uuid.UUID,
    version: int,
    build: Callable[[], Awaitable[Document]],
) -> Document:
    cached = await get(res, page_id, version)
    if cached is not None:
        return cached
    lock = res.redis.lock(
        _key(res, page_id, version) + ":build",
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
            cached = await get(res, page_id, version)
            if cached is not None:
                return cached
        document = await build()
        await put(res, page_id, version, document)
        return document
    finally:
        if acquired:
            # Expired meanwhile: harmless, the entry is written.
            with contextlib.suppress(LockError, RedisError):
                await lock.release()
