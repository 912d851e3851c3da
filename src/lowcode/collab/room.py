"""A room: the live editing session of one page in this process.

The room is an actor: one task owns its state (document, version, clients) and
handles one event at a time from its inbox, so no lock guards that state.
Ops queued while the room was busy are appended to the op log together, in
one transaction; an `ack` goes out only after that transaction committed, so
an acknowledged op is durable. The op log, not the room, orders changes: a
room that loses a race to another writer (an HTTP patch, a room on another
node) reloads the ops it missed and appends again. An op whose base is behind
is rebased onto the ops since (`pages.rebase`); only a real overlap is a
VERSION_CONFLICT.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import asyncpg

from lowcode.collab.connection import Connection
from lowcode.collab.inbox import (
    Cursor,
    Event,
    HeadMoved,
    Join,
    Leave,
    Op,
    Shutdown,
    SyncRequest,
    Tick,
)
from lowcode.collab.protocol import encode, error_frame
from lowcode.pages import oplog
from lowcode.pages.document import Document, apply_patch
from lowcode.pages.models import AppendResult, OpInput
from lowcode.pages.rebase import History
from lowcode.platform.db import transaction
from lowcode.platform.errors import AppError, VersionConflict
from lowcode.platform.outage import is_outage
from lowcode.resources import Resources

if TYPE_CHECKING:
    from lowcode.collab.hub import Hub

log = logging.getLogger("lowcode.collab.room")

MAX_BATCH = 200
# Appends retried after catching up with a writer elsewhere, before giving up.
APPEND_TRIES = 3
# Waits before retrying a room's first load after a database error.
LOAD_RETRY_S = (0.2, 0.5, 1.0, 2.0)


class RoomState(enum.Enum):
    LOADING = "loading"
    OPEN = "open"
    CLOSED = "closed"


class Room:
    def __init__(self, hub: Hub, res: Resources, page_id: uuid.UUID) -> None:
        self.hub, self.res, self.page_id = hub, res, page_id
        # Unbounded as a queue, bounded by what feeds it: readers admit ops
        # against `inbox_bytes` and per-connection counts (`ws.Reader`); the
        # rest are control events (joins, leaves, notifications, ticks).
        self.inbox: asyncio.Queue[Event] = asyncio.Queue()
        self.inbox_bytes = 0
        self.state = RoomState.LOADING
        self.clients: dict[str, Connection] = {}
        self.reserved = 0  # joins admitted by the hub, counted against the room limit
        self.document: Document = {}
        self.version = 0
        # What the last versions touched: a stale op is rebased from memory.
        self.history = History(0, res.settings.page_rebase_max_ops)
        self.snapshot_version = 0
        self.task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        # One encoded sync frame per (version, members, read-only), shared by
        # every client it goes to: a viewer asking for syncs of a 2 MiB page
        # costs one encode per version, not one per request.
        self._members_epoch = 0
        self._sync_key: tuple[int, int] | None = None
        self._sync_frames: dict[bool, str] = {}

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"room-{self.page_id}")

    # ---- the actor loop --------------------------------------------------------

    async def _run(self) -> None:
        try:
            if not await self._first_load():
                return
            self._ticker = asyncio.create_task(self._tick(), name=f"room-tick-{self.page_id}")
            while True:
                batch = [await self.inbox.get()]
                while len(batch) < MAX_BATCH and not self.inbox.empty():
                    batch.append(self.inbox.get_nowait())
                self._dequeued(batch)
                if await self._handle(batch):
                    return
                if not self.clients and await self._try_close():
                    return
        except Exception:
            log.exception("room failed", extra={"page_id": str(self.page_id)})
            await self._fail(1011, "room failed")
        finally:
            if self._ticker:
                self._ticker.cancel()
            self.state = RoomState.CLOSED
            self.hub.metrics_room_closed()

    async def _handle(self, batch: list[Event]) -> bool:
        """Handle events in order, appending consecutive ops as one batch.
        Returns True when the room has shut down."""
        ops: list[Op] = []
        for event in batch:
            if isinstance(event, Op):
                ops.append(event)
                continue
            if ops:
                await self._apply(ops)
                ops = []
            if isinstance(event, Shutdown):
                await self._shutdown(event.code)
                return True
            await self._handle_one(event)
        if ops:
            await self._apply(ops)
        return False

    def _dequeued(self, batch: list[Event]) -> None:
        """Hand back what the readers counted against this room and its clients."""
        for event in batch:
            if isinstance(event, Op):
                event.conn.ops_in_flight -= 1
                self.inbox_bytes -= event.size
            elif isinstance(event, Cursor):
                event.conn.cursors_in_flight -= 1

    async def _fail(self, code: int, reason: str) -> None:
        """Close every client, and every joiner still queued, then leave the hub.
        The hub forgets the room first, so no join can land here afterwards."""
        await self.hub.forget(self)
        for conn in list(self.clients.values()):
            conn.close(code, reason)
        while not self.inbox.empty():
            event = self.inbox.get_nowait()
            if isinstance(event, Join):
                event.conn.close(code, reason)

    async def _handle_one(self, event: Event) -> None:
        if isinstance(event, Join):
            self._join(event.conn)
        elif isinstance(event, Leave):
            self._leave(event.conn)
        elif isinstance(event, Cursor):
            frame = encode("cursor-move", {"user": event.conn.member.to_api(), **event.payload})
            self._broadcast(frame, exclude=event.conn)
        elif isinstance(event, SyncRequest):
            if event.conn.id in self.clients and not event.conn.offer(self._sync_frame(event.conn)):
                self._dropped(event.conn)
        elif isinstance(event, HeadMoved):
            if event.version is None or event.version > self.version:
                await self._catch_up()
        elif isinstance(event, Tick):
            await self._snapshot("snapshot")

    # ---- load, join, leave -----------------------------------------------------

    async def _first_load(self) -> bool:
        """Load, retrying a database blip with backoff; joiners wait meanwhile
        and are closed with 1013 (try again) if it does not come back."""
        for delay in (*LOAD_RETRY_S, None):
            try:
                return await self._load()
            except Exception as e:
                if delay is None or not is_outage(e):
                    log.error(
                        "room load failed",
                        extra={"page_id": str(self.page_id), "error": repr(e)},
                    )
                    await self._fail(1013, "the page could not be loaded; retry")
                    return False
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _load(self) -> bool:
        async with self.res.pool.acquire() as conn:
            head = await self.res.queries.pages.get_page_head(conn, page_id=self.page_id)
            if head is None:
                document = None
            else:
                document = await oplog.document_at_head(self.res, conn, self.page_id, head)
        if head is None or document is None:
            # Deleted between the endpoint's check and now: never a ghost room.
            await self.hub.forget(self)
            while not self.inbox.empty():
                event = self.inbox.get_nowait()
                if isinstance(event, Join):
                    event.conn.close(4404, "page not found")
            return False
        self.document, self.version = document, head.version
        self.history.reset(head.version)
        self.snapshot_version = head.snapshot_version
        self.state = RoomState.OPEN
        return True

    def _members(self) -> list[dict[str, str]]:
        seen: dict[uuid.UUID, dict[str, str]] = {}
        for c in self.clients.values():
            seen.setdefault(c.member.id, c.member.to_api())
        return list(seen.values())

    def _sync_frame(self, conn: Connection) -> str:
        key = (self.version, self._members_epoch)
        if key != self._sync_key:
            self._sync_key, self._sync_frames = key, {}
        frame = self._sync_frames.get(conn.read_only)
        if frame is None:
            frame = self._sync_frames[conn.read_only] = encode(
                "sync",
                {
                    "document": self.document,
                    "version": self.version,
                    "members": self._members(),
                    "readOnly": conn.read_only,
                },
            )
        return frame

    def _join(self, conn: Connection) -> None:
        first_of_user = all(c.member.id != conn.member.id for c in self.clients.values())
        self.clients[conn.id] = conn
        self._members_epoch += 1
        self.hub.metrics.ws_clients.inc()
        if not conn.offer(self._sync_frame(conn)):
            self._dropped(conn)
            return
        if first_of_user:
            self._broadcast(encode("user-join", {"user": conn.member.to_api()}), exclude=conn)

    def _leave(self, conn: Connection) -> None:
        if self.clients.pop(conn.id, None) is None:
            return
        self._members_epoch += 1
        self.reserved -= 1
        self.hub.metrics.ws_clients.dec()
        if all(c.member.id != conn.member.id for c in self.clients.values()):
            self._broadcast(encode("user-leave", {"user": conn.member.to_api()}))

    def _broadcast(self, frame: str, exclude: Connection | None = None) -> None:
        for c in list(self.clients.values()):
            if c is not exclude and not c.offer(frame):
                self._dropped(c)

    def _dropped(self, conn: Connection) -> None:
        if conn.close_code == 1013:
            self.hub.metrics.ws_dropped.inc()
            log.warning("slow client dropped", extra={"page_id": str(self.page_id)})
        self._leave(conn)

    # ---- ops -------------------------------------------------------------------

    async def _apply(self, ops: list[Op]) -> None:
        """Append the ops of live editors in one transaction, each rebased onto
        the ops since its base (or refused), then answer every sender and
        broadcast what was applied — in order, once it is durable."""
        live: list[Op] = []
        for op in ops:
            if op.conn.id not in self.clients:
                continue  # left meanwhile
            if op.conn.read_only:
                op.conn.offer(error_frame("FORBIDDEN", "viewers cannot edit", opId=op.op_id))
                continue
            live.append(op)
        if live:
            await self._append(live)

    async def _append(self, ops: list[Op]) -> None:
        inputs = [OpInput(op.patches, op.op_id, op.conn.member.id, op.base_version) for op in ops]
        result: AppendResult | None = None
        for _ in range(APPEND_TRIES):
            try:
                async with self.res.pool.acquire() as conn:
                    result = await oplog.append_ops(
                        self.res, conn, page_id=self.page_id, base_version=self.version,
                        ops=inputs, current=self.document, history=self.history,
                    )  # fmt: skip
                break
            except VersionConflict:
                # Someone else (HTTP, another node) wrote meanwhile: take their
                # ops, then rebase ours onto them.
                before = self.version
                await self._catch_up()
                if self.version == before:
                    break  # could not catch up (an outage): answer a conflict
            except asyncpg.UniqueViolationError as e:
                if not oplog.is_op_id_conflict(e):
                    raise
                try:
                    await self._resent(ops)
                except Exception as e2:
                    if not is_outage(e2):
                        raise
                    self._not_saved(ops, e2)
                return
            except AppError as e:
                for op in ops:
                    op.conn.offer(_app_error_frame(e, op.op_id))
                return
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as e:
                self._not_saved(ops, e)
                return
        if result is None:
            for op in ops:
                op.conn.offer(error_frame(
                    "VERSION_CONFLICT", f"the page is at version {self.version}",
                    opId=op.op_id, currentVersion=self.version,
                ))  # fmt: skip
            return
        if result.ops:
            self.document, self.version = result.document, result.version
            if result.snapshot:
                self.snapshot_version = result.version
        now = time.perf_counter()
        for op, outcome in zip(ops, result.outcomes, strict=True):
            if isinstance(outcome, AppError):
                op.conn.offer(_app_error_frame(outcome, op.op_id))
                continue
            op.conn.offer(encode("ack", {"opId": op.op_id, "version": outcome.version}))
            self.hub.metrics.ws_ack_latency.observe(now - op.received_at)
            self._broadcast(
                self._op_frame(outcome.patch, outcome.version, op.op_id, op.conn.member.id),
                exclude=op.conn,
            )

    async def _resent(self, ops: list[Op]) -> None:
        """Some ops were applied before (a client resending after a reconnect):
        ack those with their original version and apply the rest."""
        async with self.res.pool.acquire() as conn:
            known = {
                r.op_id: r.version
                async for r in self.res.queries.pages.find_ops(
                    conn, page_id=self.page_id, op_ids=[op.op_id for op in ops]
                )
            }
        await self._catch_up()
        fresh = []
        for op in ops:
            if op.op_id in known:
                op.conn.offer(
                    encode("ack", {"opId": op.op_id, "version": known[op.op_id], "duplicate": True})
                )
            else:
                fresh.append(op)
        if fresh:
            await self._apply(fresh)

    @staticmethod
    def _op_frame(patch: Any, version: int, op_id: str, actor: uuid.UUID | None) -> str:
        return encode(
            "op-patch",
            {"patches": patch, "version": version, "opId": op_id,
             "actor": str(actor) if actor else None},
        )  # fmt: skip

    def _not_saved(self, ops: list[Op], error: BaseException) -> None:
        log.error("append failed", extra={"page_id": str(self.page_id), "error": repr(error)})
        for op in ops:
            op.conn.offer(
                error_frame("INTERNAL_ERROR", "the op was not saved; retry", opId=op.op_id)
            )

    async def _catch_up(self) -> None:
        """Apply and broadcast ops written elsewhere since our version. A
        database outage meanwhile leaves the room as it was (its next append
        conflicts and catches up again, or the next notification does)."""
        try:
            await self._catch_up_once()
        except Exception as e:
            if not is_outage(e):
                raise
            log.warning("catch-up failed", extra={"page_id": str(self.page_id), "error": repr(e)})

    async def _catch_up_once(self) -> None:
        async with self.res.pool.acquire() as conn:
            rows = [
                r async for r in self.res.queries.pages.ops_after(
                    conn, page_id=self.page_id, after_version=self.version
                )
            ]  # fmt: skip
        expected = self.version + 1
        for row in rows:
            if row.version != expected:  # compacted away: reload everything
                await self._reload()
                return
            self.document = apply_patch(self.document, row.patch)
            self.version = expected
            self.history.push(expected, row.patch)
            expected += 1
            self._broadcast(self._op_frame(row.patch, row.version, row.op_id, row.actor))

    async def _reload(self) -> None:
        if await self._load():
            for c in list(self.clients.values()):
                if not c.offer(self._sync_frame(c)):
                    self._dropped(c)

    # ---- snapshots and closing --------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.res.settings.page_snapshot_every_s)
            self.inbox.put_nowait(Tick())

    async def _snapshot(self, reason: str) -> None:
        if self.version <= self.snapshot_version:
            return
        try:
            async with transaction(self.res.pool) as conn:
                await oplog.write_snapshot(
                    self.res, conn, self.page_id, self.document, self.version, reason, None
                )
            self.snapshot_version = self.version
        except (asyncpg.PostgresError, OSError) as e:
            # Not fatal: the op log still has every op.
            log.error("snapshot failed", extra={"page_id": str(self.page_id), "error": str(e)})

    async def _try_close(self) -> bool:
        """Close once empty: final snapshot, then leave the hub — unless a join
        slipped in meanwhile (checked under the hub's lock, which joins take)."""
        await self._snapshot("close")
        async with self.hub.lock:
            if self.clients or not self.inbox.empty() or self.reserved > 0:
                return False
            self.hub.rooms.pop(self.page_id, None)
            return True

    async def _shutdown(self, code: int) -> None:
        await self._snapshot("close")
        for c in list(self.clients.values()):
            with contextlib.suppress(Exception):
                await c.drain_and_stop(timeout_s=1.0)
            c.close(code, "server restarting")
            self.hub.metrics.ws_clients.dec()
        self.clients.clear()
        await self.hub.forget(self)


def _app_error_frame(error: AppError, op_id: str) -> str:
    extra = {
        k: v
        for k, v in error.extra.items()
        if k in ("currentVersion", "opIndex", "conflictVersion", "conflictPath") and v is not None
    }
    code = (
        error.code
        if error.code in ("PATCH_FAILED", "INVALID_DOCUMENT", "VERSION_CONFLICT")
        else ("TOO_LARGE" if error.status == 413 else "INTERNAL_ERROR")
    )
    return error_frame(code, str(error.detail or error), opId=op_id, **extra)
