"""Sliding-window rate limits in Redis, on the `limits` library's moving window."""

from __future__ import annotations

import ipaddress
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from lowcode.platform.errors import RateLimited

log = logging.getLogger("lowcode.ratelimit")


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
    """Limits shared by every process through Redis. While Redis is down the
    limits are counted in this process instead (a local moving window), so a
    cache outage neither opens login and register to unlimited guessing nor
    takes them down: the budget is then per process rather than global."""

    def __init__(self, redis_url: str, key_prefix: str) -> None:
        self._storage = RedisStorage(
            limits_url(redis_url), implementation="redispy", key_prefix=key_prefix
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._items: dict[str, RateLimitItem] = {}
        self.degraded = False

    def _item(self, rule: str) -> RateLimitItem:
        if rule not in self._items:
            self._items[rule] = parse(rule)
        return self._items[rule]

    async def hit(self, rule: str, *identifiers: str) -> None:
        """Count one request against `rule` for `identifiers`; RateLimited when over."""
        await self._ask(rule, identifiers, count=True)

    async def check(self, rule: str, *identifiers: str) -> None:
        """RateLimited when `rule` is used up for `identifiers`; counts nothing
        (per-email login limits count failures only: `hit` after one)."""
        await self._ask(rule, identifiers, count=False)

    async def _ask(self, rule: str, identifiers: tuple[str, ...], *, count: bool) -> None:
        item = self._item(rule)
        limiter = self._limiter
        try:
            allowed = await (limiter.hit if count else limiter.test)(item, *identifiers)
            if self.degraded:
                self.degraded = False
                log.warning("rate limits are shared through Redis again")
        except (RedisError, OSError) as e:  # OSError covers TimeoutError and refusals
            if not self.degraded:
                self.degraded = True
                log.warning(
                    "Redis unavailable; rate limits counted per process", extra={"error": str(e)}
                )
            limiter = self._local
            allowed = await (limiter.hit if count else limiter.test)(item, *identifiers)
        if allowed:
            return
        stats = await limiter.get_window_stats(item, *identifiers)
        raise RateLimited(
            math.ceil(max(stats.reset_time - time.time(), 1)),
            f"too many attempts; limit is {rule}",
        )


def client_bucket(ip: str | None) -> str:
    """The address a per-IP limit counts: IPv6 clients by their /64 (one host
    typically owns a whole /64, and would otherwise rotate through it)."""
    if not ip:
        return "-"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
