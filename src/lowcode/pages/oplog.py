"""The op log: the one write path for every page change (HTTP now, rooms next).

`append_ops` runs in the caller's transaction and orders changes through the
database: the head update `WHERE version = base` lets exactly one writer move
a page from v to v+1 (the others get VERSION_CONFLICT with the head), and the
(page_id, version) primary key of page_ops is the backstop that makes a
second v+1 impossible whatever path wrote it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import jsonpatch

from lowcode.pages import cache
from lowcode.pages.document import (
    Document,
    DocumentLimits,
    apply_and_validate,
    apply_patch,
    is_heavy,
)
from lowcode.pages.errors import PageNotFound
from lowcode.pages.models import AppendResult, AppliedOp, OpInput
from lowcode.platform.db import Connection
from lowcode.platform.errors import VersionConflict
from lowcode.resources import Resources
from lowcode_gen.queries.pages import GetPageHeadRow

NOTIFY_CHANNEL = "lowcode_page_ops"


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
    conn: Connection,
    *,
    page_id: uuid.UUID,
    base_version: int,
    ops: list[OpInput],
    current: Document | None = None,
    snapshot_reason: str | None = None,
) -> AppendResult:
    """Apply `ops` in order on top of `base_version` and append them as versions
    base+1…base+n, in the caller's transaction. Raises VERSION_CONFLICT when the
    head is not `base_version`, PATCH_FAILED / INVALID_DOCUMENT / TOO_LARGE when
    an op does not apply or breaks the document; nothing is written then.
    `current` is the document at `base_version` when the caller holds it (a room
    does), saving the read; `snapshot_reason` forces a snapshot at the new head."""
    q = res.queries.pages
    head = await q.get_page_head(conn, page_id=page_id)
    if head is None:
        raise PageNotFound(f"no page {page_id}")
    if head.version != base_version:
        raise VersionConflict(head.version)
    document = current
    if document is None:
        document = await document_at_head(res, conn, page_id, head)
    document = await apply_checked(res, document, [op.patch for op in ops])

    new_version = base_version + len(ops)
    if not await q.advance_head(
        conn,
        page_id=page_id,
        base_version=base_version,
        new_version=new_version,
        updated_by=ops[-1].actor,
    ):
        raise VersionConflict(await _head_version(res, conn, page_id))
    versions = list(range(base_version + 1, new_version + 1))
    await q.append_ops(
        conn,
        page_id=page_id,
        versions=versions,
        patches=[json.dumps(op.patch) for op in ops],
        op_ids=[op.op_id for op in ops],
        actors=[op.actor for op in ops],
    )
    snapshot = snapshot_reason is not None or _snapshot_due(res, head, new_version)
    if snapshot:
        await write_snapshot(
            res, conn, page_id, document, new_version, snapshot_reason or "snapshot", ops[-1].actor
        )
    await q.notify_page_ops(
        conn, payload=json.dumps({"page_id": str(page_id), "version": new_version})
    )
    applied = [
        AppliedOp(v, op.op_id, op.patch, op.actor) for v, op in zip(versions, ops, strict=True)
    ]
    return AppendResult(applied, document, new_version, snapshot)


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


def _snapshot_due(res: Resources, head: GetPageHeadRow, new_version: int) -> bool:
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


def is_op_id_conflict(error: asyncpg.UniqueViolationError) -> bool:
    return getattr(error, "constraint_name", None) == "page_ops_op_id_key"
