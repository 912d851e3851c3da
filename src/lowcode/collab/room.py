"""A room: the live editing session of one page in this process.

The room is an actor: one task owns its state (document, version, clients) and
handles one event at a time from its inbox, so no lock guards that state.
Ops queued while the room was busy are appended to the op log together, in
one transaction; an `ack` goes out only after that transaction committed, so
an acknowledged op is durable. The op log, not the room, orders changes: a
room that loses a race to another writer (an HTTP patch, a room on another
node) reloads the ops it missed and answers VERSION_CONFLICT.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import asyncpg

from lowcode.collab.access import Verdict, socket_verdicts
from lowcode.collab.connection import Connection
from lowcode.collab.inbox import (
    AccessChanged,
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
from lowcode.pages.models import OpInput
from lowcode.platform.db import transaction
from lowcode.platform.errors import AppError, VersionConflict
from lowcode.platform.outage import is_outage
from lowcode.resources import Resources

if TYPE_CHECKING:
    from lowcode.collab.hub import Hub

log = logging.getLogger("lowcode.collab.room")

MAX_BATCH = 200
SEEN_OPS = 4096  # opIds a room remembers, so conflicting ops cost no lookup
_SYNC_HEAD = '{"type":"sync","payload":{'
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
        self.snapshot_version = 0
        self.workspace_id: uuid.UUID | None = None  # known once loaded
        self.task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        # One encoded sync frame per (version, members, read-only), shared by
        # every client it goes to: a viewer asking for syncs of a 2 MiB page
        # costs one encode per version, not one per request.
        self._members_epoch = 0
        self._sync_key: tuple[int, int] | None = None
        self._sync_frames: dict[bool, str] = {}
        # opIds of the ops this room has seen applied (its own and caught-up
        # ones), for every version above `_seen_floor`: a stale op whose id is
        # not here was never applied, and needs no lookup (`_answer_applied`).
        self._seen_ids: OrderedDict[str, int] = OrderedDict()
        self._seen_floor = 0

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
            frame = encode("cursor-move", {"user": event.conn.presence(), **event.payload})
            self._broadcast(frame, exclude=event.conn)
        elif isinstance(event, SyncRequest):
            if event.conn.id in self.clients and not event.conn.offer(self._sync_frame(event.conn)):
                self._dropped(event.conn)
        elif isinstance(event, HeadMoved):
            if event.version is None or event.version > self.version:
                await self._catch_up()
        elif isinstance(event, Tick):
            await self._snapshot("snapshot")
        elif isinstance(event, AccessChanged):
            conns = [
                c
                for c in self.clients.values()
                if event.users is None or c.member.id in event.users
            ]
            try:
                await self._check_access(conns)
            except Exception as e:
                if not is_outage(e):
                    raise
                # The next op, the next change or the periodic check asks again.
                log.warning("access check failed", extra={"page_id": str(self.page_id)})

    # ---- live authorisation ------------------------------------------------------

    async def _check_access(self, conns: list[Connection]) -> None:
        """Ask Postgres what `conns` may do now: close the ones that lost access
        (4401/4403/4404), flip the others between read-only and writable (a
        fresh `sync` tells the client its `readOnly`)."""
        sessions = [c.session_id for c in conns if c.session_id is not None]
        if not sessions:
            return
        verdicts = await socket_verdicts(self.res, self.page_id, sessions)
        for conn in conns:
            if conn.session_id is None or conn.id not in self.clients:
                continue
            self._enforce(conn, verdicts[conn.session_id])

    def _enforce(self, conn: Connection, verdict: Verdict) -> None:
        if verdict.close is not None:
            log.info(
                "socket closed: access ended",
                extra={"page_id": str(self.page_id), "code": verdict.close[0]},
            )
            conn.close(*verdict.close)
            self._leave(conn)
        elif verdict.read_only != conn.read_only:
            conn.read_only = verdict.read_only
            if not conn.offer(self._sync_frame(conn)):
                self._dropped(conn)

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
        self._seen_ids.clear()
        self._seen_floor = head.version
        self.snapshot_version = head.snapshot_version
        self.workspace_id = head.workspace_id
        self.state = RoomState.OPEN
        return True

    def _members(self) -> list[dict[str, str]]:
        return [c.presence() for c in self.clients.values()]

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
        # The one per-connection field, spliced in front of the shared encoding
        # (a 2 MiB document is encoded once per version, not once per client).
        return f'{_SYNC_HEAD}"connectionId":"{conn.id}",{frame[len(_SYNC_HEAD) :]}'

    def _join(self, conn: Connection) -> None:
        self.clients[conn.id] = conn
        self._members_epoch += 1
        self.hub.metrics.ws_clients.inc()
        if not conn.offer(self._sync_frame(conn)):
            self._dropped(conn)
            return
        # Presence is per connection: a second tab of a user joins too.
        self._broadcast(encode("user-join", {"user": conn.presence()}), exclude=conn)

    def _leave(self, conn: Connection) -> None:
        if self.clients.pop(conn.id, None) is None:
            return
        self._members_epoch += 1
        self.reserved -= 1
        self.hub.metrics.ws_clients.dec()
        self._broadcast(encode("user-leave", {"user": conn.presence()}))

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
        """Validate `ops` in order on the in-memory document, append the good ones
        in one transaction, then ack the senders and broadcast to the others."""
        ops = await self._answer_applied(ops)
        accepted: list[Op] = []
        document, version = self.document, self.version
        # Writers' access is asked again before their ops count: a member
        # removed, demoted or logged out a moment ago is refused on the spot.
        writers = {
            op.conn.id: op.conn
            for op in ops
            if op.conn.id in self.clients and not op.conn.read_only
        }
        try:
            await self._check_access(list(writers.values()))
        except Exception as e:
            if not is_outage(e):
                raise
            self._not_saved(ops, e)
            return
        for op in ops:
            if op.conn.id not in self.clients:
                continue  # left meanwhile
            if op.conn.read_only:
                op.conn.offer(error_frame("FORBIDDEN", "viewers cannot edit", opId=op.op_id))
                continue
            if op.base_version != version:
                op.conn.offer(error_frame(
                    "VERSION_CONFLICT", f"the page is at version {version}",
                    opId=op.op_id, currentVersion=version,
                ))  # fmt: skip
                continue
            try:
                candidate = await oplog.apply_checked(self.res, document, [op.patches])
            except AppError as e:
                op.conn.offer(_app_error_frame(e, op.op_id))
                continue
            except Exception:
                # One bad op must never take the room (and its other clients) down.
                log.exception("op failed", extra={"page_id": str(self.page_id)})
                op.conn.offer(
                    error_frame("INTERNAL_ERROR", "the op was not applied", opId=op.op_id)
                )
                continue
            document, version = candidate, version + 1
            accepted.append(op)
        if accepted:
            await self._append(accepted)

    async def _append(self, ops: list[Op]) -> None:
        inputs = [OpInput(op.patches, op.op_id, op.conn.member.id) for op in ops]
        try:
            async with transaction(self.res.pool) as conn:
                result = await oplog.append_ops(
                    self.res, conn, page_id=self.page_id, base_version=self.version,
                    ops=inputs, current=self.document,
                )  # fmt: skip
        except VersionConflict:
            # Someone else (HTTP, another node) took this version: catch up and
            # tell our writers to rebase.
            await self._catch_up()
            for op in ops:
                op.conn.offer(error_frame(
                    "VERSION_CONFLICT", f"the page is at version {self.version}",
                    opId=op.op_id, currentVersion=self.version,
                ))  # fmt: skip
            return
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
        self.document, self.version = result.document, result.version
        for op, applied in zip(ops, result.ops, strict=True):
            self._saw(op.op_id, applied.version)
        if result.snapshot:
            self.snapshot_version = result.version
        now = time.perf_counter()
        for op, applied in zip(ops, result.ops, strict=True):
            op.conn.may_resend = False
            op.conn.offer(
                encode("ack", {"opId": op.op_id, "version": applied.version, "duplicate": False})
            )
            self.hub.metrics.ws_ack_latency.observe(now - op.received_at)
            self._broadcast(
                self._op_frame(applied.patch, applied.version, op.op_id, op.conn.member.id),
                exclude=op.conn,
            )

    async def _answer_applied(self, ops: list[Op]) -> list[Op]:
        """Answer the ops whose opId is already in the page's log, before any
        version check; return the others.

        A resend after a reconnect (same opId, patch and author) gets its
        original `ack` with `duplicate: true`, as HTTP gives; the same opId
        with another patch or author is `OP_ID_REUSED` — never an ack for an
        edit that was not saved. Looked up in the op log: ops whose id this
        room has seen applied, ops based below what it has seen, and the ops a
        connection sends before its first new op is applied (a resend rebased
        onto a sync that already holds it). Others cost no lookup: a stale op
        whose id the room has not seen was never applied, and a reused opId
        among the rest is caught by the op log's unique index (`_resent`)."""

        def suspect(op: Op) -> bool:
            # Viewers' ops are refused anyway (FORBIDDEN), with no lookup.
            if op.conn.read_only:
                return False
            if op.conn.may_resend or op.op_id in self._seen_ids:
                return True
            # Applied, an op has a version above its base: seen here, unless the
            # base is below what this room has seen since it loaded.
            return op.base_version < self._seen_floor

        suspects = [op for op in ops if suspect(op)]
        if not suspects:
            return ops
        try:
            known = await self._find_ops(suspects)
        except Exception as e:
            if not is_outage(e):
                raise
            self._not_saved(suspects, e)
            return [op for op in ops if not suspect(op)]
        return [op for op in ops if not (suspect(op) and self._answered_as_applied(op, known))]

    def _saw(self, op_id: str, version: int) -> None:
        self._seen_ids[op_id] = version
        while len(self._seen_ids) > SEEN_OPS:
            _, evicted = self._seen_ids.popitem(last=False)
            self._seen_floor = max(self._seen_floor, evicted)

    async def _find_ops(self, ops: list[Op]) -> dict[str, Any]:
        async with self.res.pool.acquire() as conn:
            return {
                r.op_id: r
                async for r in self.res.queries.pages.find_ops(
                    conn, page_id=self.page_id, op_ids=[op.op_id for op in ops]
                )
            }

    @staticmethod
    def _answered_as_applied(op: Op, known: dict[str, Any]) -> bool:
        row = known.get(op.op_id)
        if row is None:
            return False
        if row.patch == op.patches and row.actor == op.conn.member.id:
            op.conn.offer(
                encode("ack", {"opId": op.op_id, "version": row.version, "duplicate": True})
            )
        else:
            op.conn.offer(
                error_frame(
                    "OP_ID_REUSED",
                    f"opId {op.op_id!r} was already used on this page for a different patch",
                    opId=op.op_id,
                )
            )
        return True

    async def _resent(self, ops: list[Op]) -> None:
        """Some ops' ids were in the log already (a resend racing its original,
        or a reused opId): answer those as `_answer_applied` does and apply the rest."""
        known = await self._find_ops(ops)
        await self._catch_up()
        fresh = [op for op in ops if not self._answered_as_applied(op, known)]
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
            self._saw(row.op_id, row.version)
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
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as e:
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
        clients = list(self.clients.values())
        # Concurrently: fifty slow clients must not take fifty seconds.
        await asyncio.gather(
            *(c.drain_and_stop(timeout_s=1.0) for c in clients), return_exceptions=True
        )
        for c in clients:
            c.close(code, "server restarting")
            self.hub.metrics.ws_clients.dec()
        self.clients.clear()
        await self.hub.forget(self)


def _app_error_frame(error: AppError, op_id: str) -> str:
    extra = {
        k: v for k, v in error.extra.items() if k in ("currentVersion", "opIndex") and v is not None
    }
    code = (
        error.code
        if error.code in ("PATCH_FAILED", "INVALID_DOCUMENT", "VERSION_CONFLICT")
        else ("TOO_LARGE" if error.status == 413 else "INTERNAL_ERROR")
    )
    return error_frame(code, str(error.detail or error), opId=op_id, **extra)
