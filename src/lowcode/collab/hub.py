"""The hub: this process's rooms, the op-log notifications that feed them, and
the ordered shutdown that closes them.

The hub owns each room's lifecycle (as Hocuspocus' server owns its
documents): it creates a room on the first join, counts the sockets it
admitted, and when the room's task ends — saying why (`room.Ended`) — forgets
it, after re-checking that no join slipped in as it went idle (then the room
simply resumes). A room never refers back to the hub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import asyncpg

from lowcode.collab.access import AccessEpoch
from lowcode.collab.connection import Connection
from lowcode.collab.inbox import AccessChanged, HeadMoved, Join, Leave, Shutdown
from lowcode.collab.room import CLOSE_QUEUED, Ended, Room, RoomState
from lowcode.pages.oplog import NOTIFY_CHANNEL, BatchedWriter
from lowcode.platform.metrics import Metrics
from lowcode.platform.websocket.limits import Admission, TokenBucket
from lowcode.platform.websocket.protocol import Protocol, load_protocol
from lowcode.resources import Resources

log = logging.getLogger("lowcode.collab.hub")

LISTEN_RETRY_S = (0.5, 1, 2, 5)


class RoomFull(Exception):
    pass


class ShuttingDown(Exception):
    pass


class TooManyRooms(Exception):
    """This process already holds WS_MAX_ROOMS rooms (each up to a page in memory)."""


class Hub:
    def __init__(self, res: Resources) -> None:
        self.res = res
        self.metrics: Metrics = res.metrics
        self.protocol: Protocol = load_protocol(
            res.settings.asyncapi_file, res.settings.json_max_depth
        )
        self.rooms: dict[uuid.UUID, Room] = {}
        self.writer = BatchedWriter(res)
        self.access_epoch = AccessEpoch()  # moved by every announced access change
        # Not what makes join and shutdown atomic: no section under it awaits,
        # so under asyncio each runs whole, as `_ended` (which never takes it)
        # does. An await added inside one would need more than this lock.
        self.lock = asyncio.Lock()
        self.closing = False
        self._shut = asyncio.Event()
        self.admission = Admission(res.settings.ws_max_sockets_per_user, res.settings.ws_join_rate)
        s = res.settings
        for rule in (s.ws_op_rate, s.ws_cursor_rate, s.ws_sync_rate, s.ws_join_rate):
            TokenBucket.parse(rule)  # a bad setting fails start-up, not every connection
        self._listener: asyncpg.Connection | None = None
        self._listen_task: asyncio.Task[None] | None = None
        self._recheck_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._listen_task = asyncio.create_task(self._listen_forever(), name="hub-listen")
        self._recheck_task = asyncio.create_task(self._recheck_forever(), name="hub-recheck")

    async def shutdown(self, code: int = 1012, timeout_s: float = 10.0) -> None:
        """Refuse new joins, snapshot every room and close its sockets with `code`.
        A second call (the lifespan after SIGTERM started it) waits for the
        first to finish: the pool must outlive the rooms' final snapshots."""
        if self.closing:
            await self._shut.wait()
            return
        self.closing = True
        try:
            await self._shutdown(code, timeout_s)
        finally:
            self._shut.set()

    async def _shutdown(self, code: int, timeout_s: float) -> None:
        async with self.lock:
            rooms = list(self.rooms.values())
        for room in rooms:
            room.post(Shutdown(code))
        tasks = [r.task for r in rooms if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        await self.writer.close()
        for task in (self._listen_task, self._recheck_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    async def join(self, page_id: uuid.UUID, conn: Connection) -> Room:
        """Admit `conn` to the page's room, creating the room on first join.
        The caller has checked that the page exists and the user may see it."""
        async with self.lock:
            if self.closing:
                raise ShuttingDown
            room = self.rooms.get(page_id)
            if room is None:
                if len(self.rooms) >= self.res.settings.ws_max_rooms:
                    raise TooManyRooms
                room = Room(self.res, page_id, self.writer, self.access_epoch)
                self.rooms[page_id] = room
                self.metrics.ws_rooms.inc()
                self._run(room)
            if room.reserved >= self.res.settings.ws_max_clients_per_room:
                raise RoomFull
            room.reserved += 1
            room.post(Join(conn))
        return room

    def leave(self, room: Room, conn: Connection) -> None:
        """`conn`'s socket ended: it no longer counts against the room."""
        room.reserved -= 1
        room.post(Leave(conn))

    def _run(self, room: Room) -> None:
        room.start().add_done_callback(lambda task: self._ended(room, task))

    def _ended(self, room: Room, task: asyncio.Task[Ended]) -> None:
        """The room's task returned. Runs in the loop between other callbacks,
        so no join (whose check-and-post has no await) can interleave."""
        if task.cancelled():
            ended = Ended.FAILED
        elif task.exception() is not None:
            log.error("room crashed", extra={"page_id": str(room.page_id)})
            ended = Ended.FAILED
        else:
            ended = task.result()
        if ended is Ended.IDLE and not room.idle and not self.closing:
            self._run(room)  # a join came as it went idle: carry on
            return
        if self.rooms.get(room.page_id) is room:
            del self.rooms[room.page_id]
        self.metrics.ws_rooms.dec()
        code, reason = CLOSE_QUEUED.get(ended, (1012, "server restarting"))
        room.close_queued(code, reason)

    def live_document(self, page_id: uuid.UUID) -> tuple[Any, int] | None:
        """The open room's document and version (only ever advanced after a commit)."""
        room = self.rooms.get(page_id)
        if room is None or room.state is not RoomState.OPEN:
            return None
        return room.document, room.version

    def access_changed(
        self,
        *,
        users: frozenset[uuid.UUID] | None = None,
        pages: frozenset[uuid.UUID] = frozenset(),
        workspaces: frozenset[uuid.UUID] = frozenset(),
        everyone: bool = False,
    ) -> None:
        """Have the rooms concerned re-check their sockets (`collab.access`):
        those with a socket of one of `users`, the rooms of `pages` and of pages
        in `workspaces`, or all of them (`everyone`)."""
        # At once, before any room runs again: the next op of every socket on
        # this node is asked about afresh, whatever its room has queued.
        self.access_epoch.moved()
        for room in list(self.rooms.values()):
            if (
                everyone
                or room.page_id in pages
                or (room.workspace_id is not None and room.workspace_id in workspaces)
            ):
                room.inbox.put_nowait(AccessChanged(None))
            elif users and any(c.member.id in users for c in room.clients.values()):
                room.inbox.put_nowait(AccessChanged(users))

    async def _recheck_forever(self) -> None:
        """A change announced while this node was not listening is caught here."""
        while True:
            await asyncio.sleep(self.res.settings.ws_access_recheck_s)
            self.access_changed(everyone=True)

    async def _listen_forever(self) -> None:
        attempt = 0
        while not self.closing:
            try:
                await self._listen_once()
                attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("op-log listener lost", extra={"error": str(e)})
            delay = LISTEN_RETRY_S[min(attempt, len(LISTEN_RETRY_S) - 1)]
            attempt += 1
            await asyncio.sleep(delay)

    async def _listen_once(self) -> None:
        assert self.res.settings.database_url
        lost = asyncio.Event()
        conn = await asyncpg.connect(
            self.res.settings.database_url, timeout=self.res.settings.db_connect_timeout_s
        )
        self._listener = conn
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        # Notifications sent while we were not listening are gone: every room
        # re-reads its head.
        for room in list(self.rooms.values()):
            room.post(HeadMoved(None))
        try:
            while not lost.is_set():
                # asyncpg reports a dead socket only when used; probe it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), 10)
                if not lost.is_set():
                    await conn.fetchval("SELECT 1", timeout=5)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            page_id, version = uuid.UUID(data["page_id"]), int(data["version"])
        except (ValueError, KeyError, TypeError):
            log.warning("bad op-log notification", extra={"payload": payload[:200]})
            return
        room = self.rooms.get(page_id)
        if room is not None:
            room.post(HeadMoved(version))
