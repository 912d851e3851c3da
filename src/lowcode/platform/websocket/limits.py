"""Limits of sockets on this process: a rate per connection (`TokenBucket`),
and who may open another socket (`Admission`): a cap on each user's open
sockets (pages and events together) and a per-user rate of new ones.

A handshake costs a token check, Redis, two queries and, for a page, a full
document encode; without these one account could open thousands of sockets
or reconnect in a tight loop. Counted per process, like the rooms they join.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

from limits import parse

# Buckets of users who stopped connecting are pruned once there are this many.
_PRUNE_ABOVE = 10_000


class TokenBucket:
    """A per-connection rate limit: `amount` per `period_s`, in bursts of up
    to `amount`. Written here rather than taken from `limits`: its in-memory
    storage re-arms a `threading.Timer` every few milliseconds and scans every
    key under the GIL, for what is two floats per connection and no sharing."""

    __slots__ = ("_capacity", "_rate", "_stamp", "_tokens")

    def __init__(self, amount: int, period_s: float) -> None:
        self._capacity = float(amount)
        self._rate = amount / period_s
        self._tokens = float(amount)
        self._stamp = time.monotonic()

    @classmethod
    def parse(cls, rule: str) -> TokenBucket:
        """From the `limits` notation used in settings, e.g. `30/second`."""
        item = parse(rule)
        return cls(item.amount, float(item.get_expiry()))

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Admission:
    def __init__(self, max_sockets_per_user: int, join_rate: str) -> None:
        self.max_sockets = max_sockets_per_user
        self.join_rate = join_rate
        self.open: dict[uuid.UUID, int] = defaultdict(int)
        self._buckets: dict[uuid.UUID, TokenBucket] = {}

    def admit(self, user_id: uuid.UUID) -> str | None:
        """Count a new socket of `user_id`; the reason when it is refused."""
        if self.open.get(user_id, 0) >= self.max_sockets:
            return f"too many connections (at most {self.max_sockets} per user)"
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) > _PRUNE_ABOVE:
                self._buckets = {u: b for u, b in self._buckets.items() if u in self.open}
            bucket = self._buckets[user_id] = TokenBucket.parse(self.join_rate)
        if not bucket.allow():
            return "connecting too often; slow down"
        self.open[user_id] += 1
        return None

    def release(self, user_id: uuid.UUID) -> None:
        self.open[user_id] -= 1
        if self.open[user_id] <= 0:
            del self.open[user_id]
