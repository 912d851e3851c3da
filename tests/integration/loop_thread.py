"""Run async service code from synchronous tests (hypothesis drives sync functions).

The resources live on a private event loop in a thread of their own, so they
never mix with the suite's session loop.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry.trace import NoOpTracer

from lowcode.identity.models import Actor
from lowcode.platform.metrics import Metrics
from lowcode.resources import Resources, open_resources
from lowcode.settings import Settings
from lowcode.workspaces import service as workspaces

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@contextmanager
def acting_in_a_workspace(
    settings: Settings, tag: str, **update: Any
) -> Iterator[tuple[LoopThread, Resources, Actor, uuid.UUID]]:
    """(loop thread, resources, actor, workspace id): resources of `settings` with
    `update` on a private loop, and a fresh user's workspace to act in."""
    lt = LoopThread()
    cm = open_resources(settings.model_copy(update=update), Metrics(), NoOpTracer())
    res = lt.run(cm.__aenter__())

    async def setup() -> tuple[Actor, uuid.UUID]:
        async with res.pool.acquire() as conn:
            user = await res.queries.identity.insert_user(
                conn,
                email=f"{tag}-{uuid.uuid4().hex[:8]}@example.com",
                password_hash="x",
                display_name=tag.title(),
                role="user",
            )
        assert user is not None
        actor = Actor(user.id, uuid.uuid4(), "user")
        ws = await workspaces.create_workspace(res, actor, name=tag, description="")
        return actor, ws.id

    try:
        actor, ws_id = lt.run(setup())
        yield lt, res, actor, ws_id
    finally:
        lt.run(cm.__aexit__(None, None, None))
        lt.close()
