"""The op log: the one write path for every page change, from HTTP and rooms alike.

`append_ops` orders changes through the database: its one statement moves
the head from v only if it is still at v (whoever is first wins; the others
catch up and rebase), and the (page_id, version) primary key of page_ops is
the backstop that makes a second v+1 impossible whatever path wrote it. An op
written against an older version is rebased onto the ones since (`rebase`)
unless they touched the same place.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import jsonpatch

from lowcode.pages import cache
from lowcode.pages.document import (
    Document,
    DocumentLimits,
    apply_and_validate,
    apply_patch,
    is_heavy,
)
from lowcode.pages.errors import OpConflict, OpNotApplied, PageNotFound
from lowcode.pages.models import AppendResult, AppliedOp, OpInput
from lowcode.pages.rebase import History, Locations, collision, patch_locations
from lowcode.platform import jsoncodec
from lowcode.platform.db import Connection
from lowcode.platform.errors import AppError, VersionConflict
from lowcode.resources import Resources

NOTIFY_CHANNEL = "lowcode_page_ops"

log = logging.getLogger("lowcode.pages.oplog")


class OpLogGap(RuntimeError):
    """Ops needed to rebuild a version are missing (compacted meanwhile); re-read."""


async def replay(
    res: Resources,
    conn: Connection,
    page_id: uuid.UUID,
    snapshot: Document,
    snapshot_version: int,
    target_version: int,
) -> Document:
    """The document at `target_version`: the snapshot plus the ops after it."""
    document = snapshot
    expected = snapshot_version + 1
    async for op in res.queries.pages.ops_after(
        conn, page_id=page_id, after_version=snapshot_version
    ):
        if op.version > target_version:
            break
        if op.version != expected:
            raise OpLogGap(f"page {page_id}: expected op {expected}, found {op.version}")
        document = apply_patch(document, op.patch)
        expected += 1
    if expected != target_version + 1:
        raise OpLogGap(f"page {page_id}: ops end at {expected - 1}, head is {target_version}")
    return document


class PageHead(Protocol):
    """What a page row says about its head: the snapshot, its version, the head version."""

    @property
    def schema(self) -> Any: ...
    @property
    def snapshot_version(self) -> int: ...
    @property
    def version(self) -> int: ...


async def document_at_head(
    res: Resources, conn: Connection, page_id: uuid.UUID, head: PageHead
) -> Document:
    """The document at `head.version`: the snapshot itself, or the snapshot plus
    the ops after it (cached per version)."""
    if head.version == head.snapshot_version:
        return dict(head.schema)
    return await cache.get_or_build(
        res,
        page_id,
        head.version,
        lambda: replay(res, conn, page_id, head.schema, head.snapshot_version, head.version),
    )


async def read_document_at_head(res: Resources, page_id: uuid.UUID, head: PageHead) -> Document:
    """`document_at_head` for readers, who hold no connection: one is taken only
    to replay on a cache miss, never while waiting for another reader's build
    (a burst of readers of a freshly changed page would otherwise park the
    whole pool on the Redis lock)."""
    if head.version == head.snapshot_version:
        return dict(head.schema)
    local = res.page_documents
    if local is not None:
        held = local.get(page_id, head.version)
        if held is not None:
            res.metrics.cache_requests.labels("page-local", "hit").inc()
            return held

    async def build() -> Document:
        async with res.pool.acquire() as conn:
            return await replay(
                res, conn, page_id, head.schema, head.snapshot_version, head.version
            )

    document = await cache.get_or_build(res, page_id, head.version, build)
    if local is not None:
        local.put(page_id, head.version, document)
    return document


async def append_ops(
    res: Resources,
    conn: Connection | None,
    *,
    page_id: uuid.UUID,
    base_version: int | None,
    ops: list[OpInput],
    current: Document | None = None,
    history: History | None = None,
    snapshot_reason: str | None = None,
    writer: BatchedWriter | None = None,
) -> AppendResult:
    """Apply `ops` in order at the head and append the ones that apply as the
    next versions — the one write path of every page change, WebSocket or HTTP.

    `base_version` is the head the caller expects (a room: its version; PUT,
    restore: what they diffed against), `current` the document at it when
    the caller holds it (a room does: then nothing is read); None: whatever
    the head is, read here. `history`, the locations of the recent versions,
    saves reading the ops a rebase is checked against; it gets the ops
    written here.

    Rebase, not reject (SPEC §4.6): an op whose own `base_version` is behind is
    applied at the head unless an op since its base — written before, or
    earlier in this batch — touched an overlapping location (`rebase`). Each
    op's outcome is in `outcomes`: its AppliedOp, or the AppError refusing it
    (OpConflict, PATCH_FAILED, INVALID_DOCUMENT, TOO_LARGE); a refused op
    changes nothing and does not stop the others.

    The write is one statement (`append_at_head`): the head moves from
    `base_version` only if it is still there, so the database orders every
    writer. When another writer was first, VERSION_CONFLICT is raised with the
    head and nothing is written: the caller catches up (a room) or tries again
    (HTTP). Nothing is written when no op applies. `snapshot_reason` forces a
    snapshot at the new head. Runs in the caller's transaction, if any — or,
    with a `writer` (rooms), the write goes out with other pages' in one
    statement on the writer's connection, and a snapshot that falls due is
    left to the caller (`snapshot_due`); `conn` may then be None, and a
    connection is taken only for what must be read (the caller must not hold
    one while the writer needs its own from the same pool)."""
    q = res.queries.pages
    if current is None or base_version is None:
        async with _connection(res, conn) as c:
            head = await q.get_page_head(c, page_id=page_id)
            if head is None:
                raise PageNotFound(f"no page {page_id}")
            if base_version is not None and head.version != base_version:
                raise VersionConflict(head.version)
            base_version = head.version
            if current is None:
                current = await document_at_head(res, c, page_id, head)
    document = current
    since = _Since(res, conn, page_id, base_version, history)
    version = base_version
    outcomes: list[AppliedOp | AppError] = []
    accepted: list[AppliedOp] = []
    actors: list[uuid.UUID] = []
    written: list[Locations] = []
    for op in ops:
        locations = patch_locations(op.patch)
        refusal: AppError | None = await since.refusal(op, locations, version)
        if refusal is None:
            try:
                document = await apply_checked(res, document, [op.patch])
            except AppError as e:
                refusal = e
            except Exception:
                # One broken op must not take the ops batched with it down.
                log.exception("op not applied", extra={"page_id": str(page_id)})
                refusal = OpNotApplied("the op was not applied")
        if refusal is not None:
            outcomes.append(refusal)
            continue
        version += 1
        since.written(version, locations)
        written.append(locations)
        applied = AppliedOp(version, op.op_id, op.patch, op.actor)
        outcomes.append(applied)
        accepted.append(applied)
        actors.append(op.actor)
    if not accepted:
        return AppendResult([], document, base_version, False, outcomes=outcomes)

    write = HeadWrite(
        page_id,
        base_version,
        version,
        actors[-1],
        [a.version for a in accepted],
        [jsoncodec.dumps(a.patch) for a in accepted],
        [a.op_id for a in accepted],
        actors,
    )
    if writer is not None:
        moved = await writer.write(write)
    else:
        async with _connection(res, conn) as c:
            moved = await write.run(res, c)
    if moved is None:
        async with _connection(res, conn) as c:
            raise VersionConflict(await _head_version(res, c, page_id))
    snapshot = snapshot_reason is not None or _snapshot_due(res, moved, version)
    if snapshot and writer is not None and snapshot_reason is None:
        # A room writes it once its ops are acknowledged: acks need not wait.
        return AppendResult(
            accepted, document, version, False, outcomes=outcomes, snapshot_due=True
        )
    if snapshot:
        # In the caller's transaction (as a savepoint), or in one of its own.
        async with _connection(res, conn) as c, c.transaction():
            await write_snapshot(
                res, c, page_id, document, version, snapshot_reason or "snapshot", actors[-1]
            )
    if history is not None:
        for applied, locations in zip(accepted, written, strict=True):
            history.push_locations(applied.version, locations)
    return AppendResult(accepted, document, version, snapshot, outcomes=outcomes)


@dataclass(frozen=True, slots=True)
class HeadWrite:
    """One page's append: move the head from `base` to `new`, adding these ops."""

    page_id: uuid.UUID
    base: int
    new: int
    updated_by: uuid.UUID
    versions: list[int]
    patches: list[str]  # JSON texts
    op_ids: list[str]
    actors: list[uuid.UUID]

    async def run(self, res: Resources, conn: Connection) -> HeadMoved | None:
        """This write alone, in one statement; None if the head had moved."""
        row = await res.queries.pages.append_at_head(
            conn,
            page_id=self.page_id,
            base_version=self.base,
            new_version=self.new,
            updated_by=self.updated_by,
            versions=self.versions,
            patches=self.patches,
            op_ids=self.op_ids,
            actors=self.actors,
            payload=json.dumps({"page_id": str(self.page_id), "version": self.new}),
        )
        return None if row is None else HeadMoved(row.snapshot_version, row.snapshot_at)


@dataclass(frozen=True, slots=True)
class HeadMoved:
    """A write went through; the page's snapshot as it was (for `_snapshot_due`)."""

    snapshot_version: int
    snapshot_at: datetime


Waiter = asyncio.Future["HeadMoved | None"]
# Statements the rooms' writer may have out at once.
WRITER_STATEMENTS = 4


class BatchedWriter:
    """Group commit for the rooms of this process: the writes queued while one
    statement is out go together in the next (`append_at_heads`), so a
    thousand ops a second over many rooms cost tens of statements, not
    hundreds — a statement's round trip, commit and client-side overhead are
    most of what a room's op costs. A page whose head moved gets None, as from
    `HeadWrite.run`. If the statement fails (an opId reused in one room, an
    outage), each write is retried alone, so an error reaches only the room
    it belongs to."""

    def __init__(self, res: Resources) -> None:
        self.res = res
        self._pending: list[tuple[HeadWrite, Waiter]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    async def write(self, write: HeadWrite) -> HeadMoved | None:
        future: Waiter = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_forever(), name="oplog-writer")
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._flushes:
            await asyncio.wait(self._flushes)

    async def _flush_forever(self) -> None:
        # A few statements may be out at once (each page is in at most one:
        # its room waits for its write); writes queue while they all are.
        slots = asyncio.Semaphore(WRITER_STATEMENTS)
        while True:
            await self._wake.wait()
            await slots.acquire()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                slots.release()
                continue
            flush = self._alone(*batch[0]) if len(batch) == 1 else self._together(batch)
            task = asyncio.create_task(flush)
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
            task.add_done_callback(lambda _t: slots.release())

    async def _together(self, batch: list[tuple[HeadWrite, Waiter]]) -> None:
        writes = [w for w, _ in batch]
        try:
            async with self.res.pool.acquire() as conn:
                rows = {
                    r.page_id: HeadMoved(r.snapshot_version, r.snapshot_at)
                    async for r in self.res.queries.pages.append_at_heads(
                        conn,
                        page_ids=[w.page_id for w in writes],
                        base_versions=[w.base for w in writes],
                        new_versions=[w.new for w in writes],
                        updated_bys=[w.updated_by for w in writes],
                        op_pages=[w.page_id for w in writes for _ in w.versions],
                        versions=[v for w in writes for v in w.versions],
                        patches=[p for w in writes for p in w.patches],
                        op_ids=[o for w in writes for o in w.op_ids],
                        actors=[a for w in writes for a in w.actors],
                    )
                }
        except Exception:
            # Whose write broke it (a reused opId), or was it everyone's (an
            # outage)? Each alone says.
            for write, future in batch:
                await self._alone(write, future)
            return
        for write, future in batch:
            if not future.done():
                future.set_result(rows.get(write.page_id))

    async def _alone(self, write: HeadWrite, future: Waiter) -> None:
        try:
            async with self.res.pool.acquire() as conn:
                moved = await write.run(self.res, conn)
        except Exception as e:  # the writer's caller raises it; the flusher carries on
            if not future.done():
                future.set_exception(e)
            return
        if not future.done():
            future.set_result(moved)


def single(result: AppendResult) -> AppliedOp:
    """The outcome of a one-op append: the applied op, or its refusal raised."""
    outcome = result.outcomes[0]
    if isinstance(outcome, AppError):
        raise outcome
    return outcome


@contextlib.asynccontextmanager
async def _connection(res: Resources, conn: Connection | None) -> AsyncIterator[Connection]:
    """`conn`, or a connection of the pool for the block."""
    if conn is not None:
        yield conn
    else:
        async with res.pool.acquire() as acquired:
            yield acquired


class _Since:
    """The ops a rebase is checked against: the page's versions after an op's
    base up to the locked head (from the caller's history, else the op log,
    read once for the oldest base asked), plus those written in this batch."""

    def __init__(
        self,
        res: Resources,
        conn: Connection | None,
        page_id: uuid.UUID,
        head: int,
        history: History | None,
    ) -> None:
        self.res, self.conn, self.page_id, self.head = res, conn, page_id, head
        self.history = history if history is not None and history.head == head else None
        self.limit = res.settings.page_rebase_max_ops
        self.logged: list[tuple[int, Locations]] = []  # versions (logged_from, head]
        self.logged_from = head
        self.batch: list[tuple[int, Locations]] = []

    def written(self, version: int, locations: Locations) -> None:
        self.batch.append((version, locations))

    async def refusal(self, op: OpInput, locations: Locations, version: int) -> OpConflict | None:
        """Why `op` (touching `locations`) may not be applied at `version`
        (the head so far), if so."""
        base = self.head if op.base_version is None else op.base_version
        if base == version:
            return None
        if base > self.head or base < 1:
            # A version this page never had (or not yet): the client lost track.
            return OpConflict(version, detail=f"no version {base} to rebase from; resync")
        before = await self._before(base)
        if before is None:
            return OpConflict(version)
        hit = collision(locations, [*before, *self.batch])
        if hit is None:
            return None
        return OpConflict(version, conflict_version=hit[0], conflict_path=hit[1])

    async def _before(self, base: int) -> list[tuple[int, Locations]] | None:
        """(version, locations) of the versions after `base` up to the head."""
        if base == self.head:
            return []
        if self.history is not None:
            held = self.history.since(base)
            if held is not None:
                return held
        if self.head - base > self.limit:
            return None
        if base < self.logged_from:
            async with _connection(self.res, self.conn) as c:
                rows = [
                    r async for r in self.res.queries.pages.ops_between(
                        c, page_id=self.page_id, after_version=base, up_to=self.logged_from
                    )
                ]  # fmt: skip
            if [r.version for r in rows] != list(range(base + 1, self.logged_from + 1)):
                return None  # compacted away: too far behind to tell
            self.logged = [(r.version, patch_locations(r.patch)) for r in rows] + self.logged
            self.logged_from = base
        return self.logged[base - self.logged_from :]


async def apply_checked(res: Resources, document: Document, patches: list[Any]) -> Document:
    """Apply outside patches under the document limits and check the result;
    in a worker thread when the work may be long, so the event loop (every
    other request and room of this process) keeps running meanwhile."""
    limits = DocumentLimits.from_settings(res.settings)
    if is_heavy(document, patches):
        return await asyncio.to_thread(apply_and_validate, document, patches, limits)
    return apply_and_validate(document, patches, limits)


async def diff(current: Document, target: Document) -> list[dict[str, Any]]:
    """The JSON Patch from `current` to `target` (off the event loop when large)."""
    if is_heavy(current, []) or is_heavy(target, []):
        made = await asyncio.to_thread(jsonpatch.make_patch, current, target)
    else:
        made = jsonpatch.make_patch(current, target)
    return list(made.patch)


def _snapshot_due(res: Resources, head: HeadMoved, new_version: int) -> bool:
    s = res.settings
    if new_version - head.snapshot_version >= s.page_snapshot_every_ops:
        return True
    age = (datetime.now(UTC) - head.snapshot_at).total_seconds()
    return age >= s.page_snapshot_every_s


async def write_snapshot(
    res: Resources,
    conn: Connection,
    page_id: uuid.UUID,
    document: Document,
    version: int,
    reason: str,
    actor: uuid.UUID | None,
) -> None:
    """Materialise `document` as the page's snapshot at `version`; it is a revision too."""
    await res.queries.pages.write_snapshot(
        conn, page_id=page_id, schema=document, snapshot_version=version
    )
    await res.queries.pages.insert_revision(
        conn, page_id=page_id, version=version, schema=document, reason=reason, created_by=actor
    )


async def _head_version(res: Resources, conn: Connection, page_id: uuid.UUID) -> int | None:
    head = await res.queries.pages.get_page_head(conn, page_id=page_id)
    return head.version if head else None
