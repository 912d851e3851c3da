"""Small tables held in every process, kept fresh through Postgres NOTIFY.

A writer changes a table and, in the same transaction, `pg_notify`s the
table's name on a channel; at commit every listening node gets the name and
reloads that table. Reloads are coalesced (a burst of changes costs one or
two reloads) and run in a task of their own, never in the notification
callback. While the LISTEN connection is down notifications are lost, so
every table is reloaded when it comes back; a failed reload is retried.

Start-up does not wait for a database that is down or not yet migrated (the
API must come up and report that through readiness); `loaded` tells whether
every table has been read at least once, and readiness fails until it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from lowcode.platform.reconnect import reconnect_forever

log = logging.getLogger("lowcode.table_sync")

RETRY_S = (0.5, 1, 2, 5)
PROBE_S = 10.0


class TableSync:
    def __init__(
        self, dsn: str, channel: str, loaders: dict[str, Callable[[], Awaitable[None]]]
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.loaders = loaders
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loaded: set[str] = set()
        # Set while notifications are being received (tests wait on it).
        self.listening = asyncio.Event()

    @property
    def loaded(self) -> bool:
        return self._loaded == set(self.loaders)

    async def start(self) -> None:
        """Load every table once (retrying in the background what fails), then follow changes."""
        for name in self.loaders:
            await self._load(name)
        if not self.loaded:
            self.mark(*(set(self.loaders) - self._loaded))
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name=f"{self.channel}-listen"),
            asyncio.create_task(self._reload_forever(), name=f"{self.channel}-reload"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def mark(self, *names: str) -> None:
        self._dirty.update(n for n in names if n in self.loaders)
        self._wake.set()

    async def _reload_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            names, self._dirty = self._dirty, set()
            failed = [name for name in sorted(names) if not await self._load(name)]
            if failed:
                await asyncio.sleep(RETRY_S[-1])
                self.mark(*failed)

    async def _load(self, name: str) -> bool:
        try:
            await self.loaders[name]()
        except Exception as e:  # retried by the caller; the held copy stays as it was
            log.warning("reload failed", extra={"table": name, "error": repr(e)})
            return False
        self._loaded.add(name)
        return True

    async def _listen_forever(self) -> None:
        await reconnect_forever(
            self._listen_once,
            delays_s=RETRY_S,
            log=log,
            lost="listener lost",
            extra={"channel": self.channel},
        )

    async def _listen_once(self, _connected: Callable[[], None]) -> None:
        lost = asyncio.Event()
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": "lowcode"})
        try:
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(self.channel, self._on_notify)
            # Changes made while nobody listened were announced to nobody.
            self.mark(*self.loaders)
            self.listening.set()
            while not lost.is_set():
                # asyncpg notices a dead socket only when it is used: probe it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), PROBE_S)
                if not lost.is_set():
                    await conn.fetchval("SELECT 1", timeout=5)
        finally:
            self.listening.clear()
            # Usually dead by now (lost, or a probe failed): terminate() does
            # not wait on the peer, where close() could hang on a silent one
            # (asyncpg's pool terminates its broken connections likewise).
            conn.terminate()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.mark(payload)
