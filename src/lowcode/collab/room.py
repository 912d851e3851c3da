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
import enum
import logging
import random
import time
import uuid
from collections import OrderedDict
from typing import Any

from lowcode.collab.access import FRESH_S, AccessEpoch, Verdict, socket_verdicts
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
from lowcode.pages import oplog
from lowcode.pages.document import Document, apply_patch
from lowcode.pages.errors import OpIdConflict
from lowcode.pages.models import AppendResult, OpInput
from lowcode.pages.rebase import History
from lowcode.platform.db import DB_ERRORS, transaction
from lowcode.platform.errors import AppError, VersionConflict
from lowcode.platform.outage import is_outage
from lowcode.platform.websocket.protocol import Frame, encode, error_frame
from lowcode.resources import Resources

log = logging.getLogger("lowcode.collab.room")

MAX_BATCH = 200
SEEN_OPS = 4096  # opIds a room remembers, so conflicting ops cost no lookup
_SYNC_HEAD = '{"type":"sync","payload":{'
# Appends retried after catching up with a writer elsewhere, before giving up.
APPEND_TRIES = 3
# Waits before retrying a room's first load after a database error.
LOAD_RETRY_S = (0.2, 0.5, 1.0, 2.0)


class RoomState(enum.Enum):
    LOADING = "loading"
    OPEN = "open"
    CLOSED = "closed"


class Ended(enum.Enum):
    """Why a room's task returned; the hub, which owns rooms, acts on it."""

    IDLE = "idle"  # no client left or coming (final snapshot written)
    SHUTDOWN = "shutdown"  # the process is stopping; clients closed
    GONE = "gone"  # the page does not exist (any more); clients closed 4404
    LOAD_FAILED = "load-failed"  # the first load failed; joiners closed 1013
    FAILED = "failed"  # a bug; clients closed 1011


# The close code for joiners still queued in a room that ended, by reason.
CLOSE_QUEUED = {
    Ended.SHUTDOWN: (1012, "server restarting"),
    Ended.GONE: (4404, "page not found"),
    Ended.LOAD_FAILED: (1013, "the page could not be loaded; retry"),
    Ended.FAILED: (1011, "room failed"),
}


class Room:
    """One page's room. It never refers to the hub: the hub creates it, posts
    events to it, counts the joins it admitted (`reserved`) and, when the
    room's task returns an `Ended`, forgets it (or resumes it when a join
    slipped in as it went idle)."""

    def __init__(
        self,
        res: Resources,
        page_id: uuid.UUID,
        writer: oplog.BatchedWriter | None = None,
        access_epoch: AccessEpoch | None = None,
    ) -> None:
        self.res, self.page_id = res, page_id
        self.writer = writer  # shared by the process's rooms: one statement for many
        self.access_epoch = access_epoch or AccessEpoch()  # the hub's, shared by its rooms
        # Rooms whose sockets joined together must not all ask again together.
        self._fresh_s = FRESH_S * random.uniform(1.0, 1.5)  # noqa: S311 (spreading load)
        self.metrics = res.metrics
        # Unbounded as a queue, bounded by what feeds it: readers admit ops
        # against `inbox_bytes` and per-connection counts (`ws.Reader`); the
        # rest are control events (joins, leaves, notifications, ticks).
        self.inbox: asyncio.Queue[Event] = asyncio.Queue()
        self.inbox_bytes = 0
        self.state = RoomState.LOADING
        self.clients: dict[str, Connection] = {}
        # Sockets the hub admitted to this room and that have not left yet
        # (counted against the room limit). Owned by the hub.
        self.reserved = 0
        self.document: Document = {}
        self.version = 0
        # What the last versions touched: a stale op is rebased from memory.
        self.history = History(0, res.settings.page_rebase_max_ops)
        self.snapshot_version = 0
        self.workspace_id: uuid.UUID | None = None  # known once loaded
        self.task: asyncio.Task[Ended] | None = None
        self._loaded = False
        self._ended: Ended | None = None  # set by a handler that ends the room
        self._ticker: asyncio.Task[None] | None = None
        # One encoded sync frame per (version, members, read-only), shared by
        # every client it goes to: a viewer asking for syncs of a 2 MiB page
        # costs one encode per version, not one per request.
        self._members_epoch = 0
        self._sync_key: tuple[int, int] | None = None
        self._sync_frames: dict[bool, Frame] = {}
        # opIds of the ops this room has seen applied (its own and caught-up
        # ones), for every version above `_seen_floor`: a stale op whose id is
        # not here was never applied, and needs no lookup (`_answer_applied`).
        self._seen_ids: OrderedDict[str, int] = OrderedDict()
        self._seen_floor = 0

    def start(self) -> asyncio.Task[Ended]:
        """Run the room (again, after an idle end that a join interrupted)."""
        self.task = asyncio.create_task(self._run(), name=f"room-{self.page_id}")
        return self.task

    def post(self, event: Event) -> None:
        """Queue an event for the room's task."""
        self.inbox.put_nowait(event)

    @property
    def idle(self) -> bool:
        """No client, none admitted and coming, nothing queued."""
        return not self.clients and self.reserved <= 0 and self.inbox.empty()

    def close_queued(self, code: int, reason: str) -> None:
        """Close the joiners still queued (the room has ended)."""
        while not self.inbox.empty():
            event = self.inbox.get_nowait()
            if isinstance(event, Join):
                event.conn.close(code, reason)

    async def _run(self) -> Ended:
        try:
            if not self._loaded:
                ended = await self._first_load()
                if ended is not None:
                    return ended
            self.state = RoomState.OPEN
            self._ticker = asyncio.create_task(self._tick(), name=f"room-tick-{self.page_id}")
            while True:
                batch = [await self.inbox.get()]
                while len(batch) < MAX_BATCH and not self.inbox.empty():
                    batch.append(self.inbox.get_nowait())
                self._dequeued(batch)
                ended = await self._handle(batch)
                if ended is None and self.idle:
                    await self._snapshot("close")
                    if self.idle:  # re-checked: a join may have come meanwhile
                        ended = Ended.IDLE
                if ended is not None:
                    return ended
        except Exception:  # whatever broke the room, its sockets hear 1011, not silence
            log.exception("room failed", extra={"page_id": str(self.page_id)})
            self._close_all(1011, "room failed")
            return Ended.FAILED
        finally:
            if self._ticker:
                self._ticker.cancel()
                self._ticker = None
            self.state = RoomState.CLOSED
            # The clients gauge has one owner, the room: +1 per join, -1 per
            # leave, and here whoever is still in when the room ends.
            self.metrics.ws_clients.dec(len(self.clients))
            self.clients.clear()

    async def _handle(self, batch: list[Event]) -> Ended | None:
        """Handle events in order, appending consecutive ops as one batch.
        Returns why the room ended, if it did."""
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
                return Ended.SHUTDOWN
            await self._handle_one(event)
            if self._ended is not None:
                return self._ended
        if ops:
            await self._apply(ops)
        return self._ended

    def _dequeued(self, batch: list[Event]) -> None:
        """Hand back what the readers counted against this room and its clients."""
        for event in batch:
            if isinstance(event, Op):
                event.conn.ops_in_flight -= 1
                self.inbox_bytes -= event.size
            elif isinstance(event, Cursor):
                event.conn.cursors_in_flight -= 1

    def _close_all(self, code: int, reason: str) -> None:
        """Close every client and every joiner still queued (the room is ending;
        the hub closes any joiner that lands after this)."""
        for conn in list(self.clients.values()):
            conn.close(code, reason)
        self.close_queued(code, reason)

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

    async def _check_access(self, conns: list[Connection]) -> None:
        """Ask Postgres what `conns` may do now: close the ones that lost access
        (4401/4403/4404), flip the others between read-only and writable (a
        fresh `sync` tells the client its `readOnly`)."""
        sessions = [c.session_id for c in conns if c.session_id is not None]
        if not sessions:
            return
        # The epoch as the question is asked: a change announced while it is
        # in flight leaves the answer stale, so the next op asks again.
        asked = (self.access_epoch.value, time.monotonic())
        verdicts = await socket_verdicts(self.res, self.page_id, sessions)
        for conn in conns:
            if conn.session_id is None or conn.id not in self.clients:
                continue
            conn.access_checked = asked
            self._enforce(conn, verdicts[conn.session_id])

    def _fresh(self, conn: Connection, now: float) -> bool:
        """Whether the last answer about `conn` still stands (`collab.access`)."""
        checked = conn.access_checked
        return (
            checked is not None
            and checked[0] == self.access_epoch.value
            and now - checked[1] < self._fresh_s
        )

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

    async def _first_load(self) -> Ended | None:
        """Load, retrying a database blip with backoff; joiners wait meanwhile
        and are closed with 1013 (try again) if it does not come back."""
        for delay in (*LOAD_RETRY_S, None):
            try:
                if await self._load():
                    return None
                self._close_all(*CLOSE_QUEUED[Ended.GONE])
                return Ended.GONE
            except Exception as e:
                if delay is None or not is_outage(e):
                    log.error(
                        "room load failed",
                        extra={"page_id": str(self.page_id), "error": repr(e)},
                    )
                    self._close_all(*CLOSE_QUEUED[Ended.LOAD_FAILED])
                    return Ended.LOAD_FAILED
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
            return False  # deleted (maybe between the endpoint's check and now)
        self.document, self.version = document, head.version
        self._seen_ids.clear()
        self._seen_floor = head.version
        self.history.reset(head.version)
        self.snapshot_version = head.snapshot_version
        self.workspace_id = head.workspace_id
        self.state = RoomState.OPEN
        self._loaded = True
        return True

    def _members(self) -> list[dict[str, str]]:
        return [c.presence() for c in self.clients.values()]

    def _sync_frame(self, conn: Connection) -> Frame:
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
        return Frame(
            "sync", f'{_SYNC_HEAD}"connectionId":"{conn.id}",{frame.text[len(_SYNC_HEAD) :]}'
        )

    def _join(self, conn: Connection) -> None:
        self.clients[conn.id] = conn
        self._members_epoch += 1
        self.metrics.ws_clients.inc()
        if not conn.offer(self._sync_frame(conn)):
            self._dropped(conn)
            return
        # Presence is per connection: a second tab of a user joins too.
        self._broadcast(encode("user-join", {"user": conn.presence()}), exclude=conn)

    def _leave(self, conn: Connection) -> None:
        if self.clients.pop(conn.id, None) is None:
            return
        self._members_epoch += 1
        self.metrics.ws_clients.dec()
        self._broadcast(encode("user-leave", {"user": conn.presence()}))

    def _broadcast(self, frame: Frame, exclude: Connection | None = None) -> None:
        for c in list(self.clients.values()):
            if c is not exclude and not c.offer(frame):
                self._dropped(c)

    def _dropped(self, conn: Connection) -> None:
        if conn.close_code == 1013:
            self.metrics.ws_dropped.inc()
            log.warning("slow client dropped", extra={"page_id": str(self.page_id)})
        self._leave(conn)

    async def _apply(self, ops: list[Op]) -> None:
        """Answer resends of ops already in the log, ask the writers' access
        again, then append the live editors' ops in one transaction, each
        rebased onto the ops since its base (or refused); answer every sender
        and broadcast what was applied — in order, once it is durable."""
        ops = await self._answer_applied(ops)
        # Writers' access is asked again before their ops count when a change
        # was announced since the last answer (or it is older than FRESH_S):
        # a member removed, demoted or logged out a moment ago is refused on
        # the spot. One question covers every writer of the room.
        now = time.monotonic()
        if any(
            op.conn.id in self.clients and not op.conn.read_only and not self._fresh(op.conn, now)
            for op in ops
        ):
            writers = [c for c in self.clients.values() if not c.read_only]
        else:
            writers = []
        try:
            await self._check_access(writers)
        except Exception as e:
            if not is_outage(e):
                raise
            self._not_saved(ops, e)
            return
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
                # No connection held meanwhile: the writer takes its own, and
                # one is taken here only if something must be read.
                result = await oplog.append_ops(
                    self.res, None, page_id=self.page_id, base_version=self.version,
                    ops=inputs, current=self.document, history=self.history,
                    writer=self.writer,
                )  # fmt: skip
                break
            except VersionConflict:
                # Someone else (HTTP, another node) wrote meanwhile: take their
                # ops, then rebase ours onto them.
                before = self.version
                await self._catch_up()
                if self.version == before:
                    break  # could not catch up (an outage): answer a conflict
            except OpIdConflict:
                # Already in the log: a resend of ops written before.
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
            except DB_ERRORS as e:
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
            self._saw(op.op_id, outcome.version)
            op.conn.may_resend = False
            op.conn.offer(
                encode("ack", {"opId": op.op_id, "version": outcome.version, "duplicate": False})
            )
            self.metrics.ws_ack_latency.observe(now - op.received_at)
            self._broadcast(
                self._op_frame(outcome.patch, outcome.version, op.op_id, op.conn.member.id),
                exclude=op.conn,
            )
        if result.snapshot_due:
            await self._snapshot("snapshot")  # after the acks: they need not wait for it

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
    def _op_frame(patch: Any, version: int, op_id: str, actor: uuid.UUID | None) -> Frame:
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
            self.history.push(expected, row.patch)
            expected += 1
            self._broadcast(self._op_frame(row.patch, row.version, row.op_id, row.actor))

    async def _reload(self) -> None:
        if not await self._load():
            # The page was deleted: the room ends, its clients are told.
            self._close_all(*CLOSE_QUEUED[Ended.GONE])
            self._ended = Ended.GONE
            return
        for c in list(self.clients.values()):
            if not c.offer(self._sync_frame(c)):
                self._dropped(c)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.res.settings.page_snapshot_every_s)
            self.post(Tick())

    async def _snapshot(self, reason: str) -> None:
        if self.version <= self.snapshot_version:
            return
        try:
            async with transaction(self.res.pool) as conn:
                await oplog.write_snapshot(
                    self.res, conn, self.page_id, self.document, self.version, reason, None
                )
            self.snapshot_version = self.version
        except DB_ERRORS as e:
            # Not fatal: the op log still has every op.
            log.error("snapshot failed", extra={"page_id": str(self.page_id), "error": str(e)})

    async def _shutdown(self, code: int) -> None:
        await self._snapshot("close")
        clients = list(self.clients.values())
        # Concurrently: fifty slow clients must not take fifty seconds.
        await asyncio.gather(
            *(c.drain_and_stop(timeout_s=1.0) for c in clients), return_exceptions=True
        )
        for c in clients:
            c.close(code, "server restarting")
        self.close_queued(code, "server restarting")


def _app_error_frame(error: AppError, op_id: str) -> Frame:
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
