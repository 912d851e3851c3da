"""The loop every long-lived listener runs: connect, follow until the
connection ends, wait a little, connect again — for as long as the process runs.

The Postgres LISTEN connections (`collab.hub`, `platform.table_sync`) and the
Redis subscriptions (`events.bus`, `identity.local_sessions`) share it. The
delay grows while connecting keeps failing and starts over once a connection
worked. (stamina, which retries our gRPC calls, retries a call until it
succeeds; here success is the connection ending normally, which must lead to
another round, and the backoff must reset when the connection comes up, not
when the call returns.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

# One connection's life; it calls `connected()` once it is following, so the
# next loss waits the shortest delay again.
Follow = Callable[[Callable[[], None]], Awaitable[None]]


async def reconnect_forever(
    follow: Follow,
    *,
    delays_s: Sequence[float],
    log: logging.Logger,
    lost: str,
    extra: Mapping[str, Any] | None = None,
    retry_on: tuple[type[Exception], ...] = (Exception,),
    running: Callable[[], bool] = lambda: True,
) -> None:
    """Run `follow` again and again while `running()`. After it returns or
    raises one of `retry_on` (logged as `lost`), wait `delays_s[n]`, n being
    the rounds since it last returned or called `connected()` (the last delay
    repeats). Anything else it raises, and cancellation, end the loop."""
    attempt = 0

    def connected() -> None:
        nonlocal attempt
        attempt = 0

    while running():
        try:
            await follow(connected)
            attempt = 0
        except retry_on as e:
            log.warning(lost, extra={**(extra or {}), "error": repr(e)})
        await asyncio.sleep(delays_s[min(attempt, len(delays_s) - 1)])
        attempt += 1
