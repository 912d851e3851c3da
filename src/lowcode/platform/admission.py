"""Admission: at most HTTP_MAX_IN_FLIGHT requests run at once; the others
wait their turn in arrival order, and one that waited HTTP_QUEUE_TIMEOUT_S
gets 503 with `Retry-After` instead of running late.

Without it, a thousand concurrent requests all start at once and share the
event loop, the database pool and the Redis pool between them; neither pool
hands out connections strictly in arrival order, so under load some
requests starve past their clients' timeouts (or the pool's acquire
timeout) while others pass them. With it, a request's wait is its place in
one FIFO line divided by the service rate, and the pools are never crowded.
Probes and metrics skip the line: an overloaded instance still answers them.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from lowcode.platform.problems import send_problem

EXEMPT_PREFIXES = ("/health/", "/metrics")


class AdmissionGate:
    def __init__(
        self, app: ASGIApp, *, max_in_flight: int, queue_timeout_s: float, retry_after_s: int
    ) -> None:
        self.app = app
        self.queue_timeout_s = queue_timeout_s
        self.retry_after_s = retry_after_s
        # asyncio.Semaphore hands out released slots to waiters first, oldest first.
        self._slots = asyncio.Semaphore(max_in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            if self._slots.locked():
                async with asyncio.timeout(self.queue_timeout_s):
                    await self._slots.acquire()
            else:
                # A free slot (the usual case): taken at once, no timer to arm.
                await self._slots.acquire()
        except TimeoutError:
            await send_problem(
                send,
                code="UNAVAILABLE",
                status=503,
                detail="the service is busy; retry later",
                headers={"Retry-After": str(self.retry_after_s)},
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()
