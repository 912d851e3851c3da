"""Stopping a task that reads a Redis subscription.

A cancel that lands while redis-py is still reading a subscription's first
replies can be swallowed there, and the task reads on: awaiting it after
`cancel()` then hangs shutdown until the process is killed. Closing the
subscription's connection ends that read; the task is cancelled again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio.client import PubSub

log = logging.getLogger("lowcode.subscriptions")

STOP_WAIT_S = 2.0


async def stop_reader(task: asyncio.Task[None], pubsub: PubSub | None, what: str) -> None:
    """Cancel `task` (reading `pubsub`) and wait for it, closing the
    subscription's connection if the cancel does not take."""
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=STOP_WAIT_S)
    if done:
        return
    log.warning("subscription did not stop; closing its connection", extra={"what": what})
    if pubsub is not None and pubsub.connection is not None:
        # Best effort on a connection that is stuck anyway; shutdown goes on.
        with contextlib.suppress(Exception):
            await pubsub.connection.disconnect()
    task.cancel()
    await asyncio.wait({task}, timeout=STOP_WAIT_S)
