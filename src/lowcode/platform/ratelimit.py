"""Sliding-window rate limits in Redis, on the `limits` library's moving window."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from lowcode.platform.errors import RateLimited


def limits_url(redis_url: str) -> str:
    """`limits` names its async redis-py storage by URL scheme."""
    for scheme, mapped in (
        ("unix://", "async+redis+unix://"),
        ("rediss://", "async+rediss://"),
        ("redis://", "async+redis://"),
    ):
        if redis_url.startswith(scheme):
            return mapped + redis_url[len(scheme) :]
    raise ValueError(f"unsupported Redis URL scheme for rate limits: {redis_url.split(':')[0]}")


class RateLimiter:
    def __init__(self, redis_url: str, key_prefix: str) -> None:
        self._storage = RedisStorage(
            limits_url(redis_url), implementation="redispy", key_prefix=key_prefix
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, rule: str) -> RateLimitItem:
        if rule not in self._items:
            self._items[rule] = parse(rule)
        return self._items[rule]

    async def hit(self, rule: str, *identifiers: str) -> None:
        """Count one request against `rule` for `identifiers`; RateLimited when over."""
        item = self._item(rule)
        if await self._limiter.hit(item, *identifiers):
            return
        stats = await self._limiter.get_window_stats(item, *identifiers)
        raise RateLimited(
            math.ceil(max(stats.reset_time - time.time(), 1)),
            f"too many attempts; limit is {rule}",
        )
