"""Page use cases. Every document change goes through `oplog.append_ops`."""

from __future__ import annotations

import uuid

from lowcode.events.publish import access_changed
from lowcode.identity.models import Actor
from lowcode.pages import cache, oplog
from lowcode.pages.document import Document, Patch, new_document
from lowcode.pages.errors import OpIdConflict, OpIdReused, PageNotFound, RevisionNotFound
from lowcode.pages.models import AppendResult, AppliedOp, OpInput, Page, PageSummary, Revision
from lowcode.platform.db import Connection, transaction
from lowcode.platform.errors import VersionConflict
from lowcode.platform.pagination import PageOf, PageRequest, fetch_page, search_pattern
from lowcode.resources import LivePages, Resources
from lowcode.workspaces.access import require_member_role, require_role
from lowcode_gen.queries.pages import GetPageForMemberRow, PageSummaryRow


def _summary(row: PageSummaryRow | GetPageForMemberRow) -> PageSummary:
    return PageSummary(
        row.id,
        row.workspace_id,
        row.title,
        row.version,
        row.created_by,
        row.created_at,
        row.updated_by,
        row.updated_at,
    )


async def _page_for(
    res: Resources, conn: Connection, actor: Actor, page_id: uuid.UUID, minimum: str
) -> GetPageForMemberRow:
    """The page row if the actor may act on it with `minimum` workspace role.
    Pages of workspaces the actor is not in are simply not found."""
    row = await res.queries.pages.get_page_for_member(conn, page_id=page_id, user_id=actor.user_id)
    return require_member_role(row, minimum, PageNotFound, "page", page_id)


async def list_pages(
    res: Resources,
    actor: Actor,
    workspace_id: uuid.UUID,
    *,
    query: str | None,
    sort: str,
    page: PageRequest,
) -> PageOf[PageSummary]:
    pattern = search_pattern(query)
    q = res.queries.pages
    async with res.pool.acquire() as conn:
        await require_role(res, conn, actor, workspace_id, "viewer")
        return await fetch_page(
            page,
            q.list_pages(
                conn,
                workspace_id=workspace_id,
                query=pattern,
                sort=sort,
                limit=page.limit,
                offset=page.offset,
            ),
            _summary,
            lambda: q.count_pages(conn, workspace_id=workspace_id, query=pattern),
        )


async def create_page(
    res: Resources,
    actor: Actor,
    workspace_id: uuid.UUID,
    *,
    title: str,
    document: Document | None,
) -> Page:
    """Create a page (editors); without a document it gets one root component."""
    document = document if document is not None else new_document(title.strip())
    await oplog.apply_checked(res, document, [])
    async with transaction(res.pool) as conn:
        await require_role(res, conn, actor, workspace_id, "editor")
        row = await res.queries.pages.insert_page(
            conn,
            workspace_id=workspace_id,
            title=title.strip(),
            schema=document,
            created_by=actor.user_id,
        )
        await res.queries.pages.insert_revision(
            conn,
            page_id=row.id,
            version=1,
            schema=document,
            reason="create",
            created_by=actor.user_id,
        )
    return Page(_summary(row), document)


async def get_page(
    res: Resources, actor: Actor, page_id: uuid.UUID, live_pages: LivePages | None = None
) -> Page:
    """The current state: the live room's document when the page is being edited
    in this process, else the snapshot plus the ops after it (cached per version).
    A read never creates anything (no room, no snapshot)."""
    for attempt in range(3):
        async with res.pool.acquire() as conn:
            row = await _page_for(res, conn, actor, page_id, "viewer")
        live = live_pages.live_document(page_id) if live_pages else None
        if live is not None and live[1] == row.version:
            return Page(_summary(row), live[0])
        try:
            document = await oplog.read_document_at_head(res, page_id, row)
        except oplog.OpLogGap:
            if attempt == 2:
                raise
            continue  # compacted between our two reads: read the head again
        return Page(_summary(row), document)
    raise AssertionError("unreachable")


async def update_title(res: Resources, actor: Actor, page_id: uuid.UUID, title: str) -> PageSummary:
    async with transaction(res.pool) as conn:
        await _page_for(res, conn, actor, page_id, "editor")
        row = await res.queries.pages.update_title(
            conn, page_id=page_id, title=title.strip(), updated_by=actor.user_id
        )
        if row is None:
            raise PageNotFound(f"no page {page_id}")
    return _summary(row)


async def delete_page(res: Resources, actor: Actor, page_id: uuid.UUID) -> None:
    """Soft delete (owners): the page is gone for every reader from now on."""
    async with transaction(res.pool) as conn:
        await _page_for(res, conn, actor, page_id, "owner")
        await res.queries.pages.soft_delete_page(conn, page_id=page_id)
    # Its open rooms close their sockets (4404) on every node.
    await access_changed(res, pages=[page_id])


async def patch_page(
    res: Resources,
    actor: Actor,
    page_id: uuid.UUID,
    *,
    base_version: int,
    patch: Patch,
    op_id: str,
) -> AppliedOp:
    """Apply one JSON Patch written against `base_version` — the HTTP twin of a
    WebSocket op, through the same write path: rebased onto the ops since its
    base unless one of them touched an overlapping location (409
    VERSION_CONFLICT with the current version and where they collided).

    Idempotent by `op_id`: a retry (even a concurrent one) gets the original
    op's result with `duplicate` set, and the patch is never applied twice.
    """
    async with res.pool.acquire() as conn:
        await _page_for(res, conn, actor, page_id, "editor")
        earlier = await _existing_op(res, conn, page_id, op_id, patch, actor.user_id)
    if earlier is not None:
        return earlier
    op = OpInput(patch, op_id, actor.user_id, base_version)
    try:
        return oplog.single(await _append(res, page_id, [op]))
    except (VersionConflict, OpIdConflict):
        # Possibly lost a race to a retry of this very op (which then
        # overlaps it, or takes its opId).
        async with res.pool.acquire() as conn:
            earlier = await _existing_op(res, conn, page_id, op_id, patch, actor.user_id)
        if earlier is not None:
            return earlier
        raise


async def replace_document(
    res: Resources,
    actor: Actor,
    page_id: uuid.UUID,
    *,
    base_version: int,
    document: Document,
    op_id: str | None,
    live_pages: LivePages | None = None,
) -> Page:
    """PUT of the whole document at `base_version`, stored as the diff from the
    current document, so it is an op like any other (ordered, broadcast)."""
    # The new document is checked first: a document over the limits is refused
    # before anything is read or diffed.
    await oplog.apply_checked(res, document, [])
    async with transaction(res.pool) as conn:
        row = await _page_for(res, conn, actor, page_id, "editor")
        if row.version != base_version:
            raise VersionConflict(row.version)
        current = await oplog.document_at_head(res, conn, page_id, row)
        patch = await oplog.diff(current, document)
        if not patch:
            return Page(_summary(row), current)
        # An opId already in the log: OP_ID_REUSED (pages/errors.py).
        result = await oplog.append_ops(
            res,
            conn,
            page_id=page_id,
            base_version=base_version,
            ops=[OpInput(patch, op_id or f"put-{uuid.uuid4().hex}", actor.user_id)],
            current=current,
        )
        oplog.single(result)
    await cache.put(res, page_id, result.version, result.document)
    return await get_page(res, actor, page_id, live_pages)


async def list_revisions(
    res: Resources, actor: Actor, page_id: uuid.UUID, page: PageRequest
) -> PageOf[Revision]:
    q = res.queries.pages
    async with res.pool.acquire() as conn:
        await _page_for(res, conn, actor, page_id, "viewer")
        return await fetch_page(
            page,
            q.list_revisions(conn, page_id=page_id, limit=page.limit, offset=page.offset),
            lambda r: Revision(r.version, r.reason, r.created_by, r.created_at),
            lambda: q.count_revisions(conn, page_id=page_id),
        )


async def get_revision(res: Resources, actor: Actor, page_id: uuid.UUID, version: int) -> Revision:
    async with res.pool.acquire() as conn:
        await _page_for(res, conn, actor, page_id, "viewer")
        row = await res.queries.pages.get_revision(conn, page_id=page_id, version=version)
    if row is None:
        raise RevisionNotFound(f"page {page_id} has no revision {version}")
    return Revision(row.version, row.reason, row.created_by, row.created_at, row.schema)


async def restore_revision(
    res: Resources,
    actor: Actor,
    page_id: uuid.UUID,
    version: int,
    *,
    base_version: int | None,
    op_id: str | None,
) -> AppliedOp:
    """Make the document what it was at `version`, as a new op (so it is ordered
    with concurrent edits and can itself be undone by restoring again)."""
    async with transaction(res.pool) as conn:
        await _page_for(res, conn, actor, page_id, "editor")
        # Without a base version the restore applies to whatever the head is;
        # the row lock keeps the head still while we diff against it.
        head = await res.queries.pages.lock_page_head(conn, page_id=page_id)
        if head is None:
            raise PageNotFound(f"no page {page_id}")
        if base_version is not None and base_version != head.version:
            raise VersionConflict(head.version)
        target = await res.queries.pages.get_revision(conn, page_id=page_id, version=version)
        if target is None:
            raise RevisionNotFound(f"page {page_id} has no revision {version}")
        current = await oplog.document_at_head(res, conn, page_id, head)
        patch = await oplog.diff(current, target.schema)
        # An opId already in the log: OP_ID_REUSED (pages/errors.py).
        result = await oplog.append_ops(
            res,
            conn,
            page_id=page_id,
            base_version=head.version,
            ops=[OpInput(patch, op_id or f"restore-{uuid.uuid4().hex}", actor.user_id)],
            current=current,
            snapshot_reason="restore",
        )
        applied = oplog.single(result)
    await cache.put(res, page_id, result.version, result.document)
    return applied


async def _append(res: Resources, page_id: uuid.UUID, ops: list[OpInput]) -> AppendResult:
    """Append at the head, holding the page row meanwhile: concurrent HTTP
    writers of one page take turns instead of racing (and retrying) for it."""
    async with transaction(res.pool) as conn:
        head = await res.queries.pages.lock_page_head(conn, page_id=page_id)
        if head is None:
            raise PageNotFound(f"no page {page_id}")
        current = await oplog.document_at_head(res, conn, page_id, head)
        result = await oplog.append_ops(
            res, conn, page_id=page_id, base_version=head.version, ops=ops, current=current
        )
    # Only now is the version committed, so only now may it be cached.
    if result.ops:
        await cache.put(res, page_id, result.version, result.document)
    return result


async def _existing_op(
    res: Resources,
    conn: Connection,
    page_id: uuid.UUID,
    op_id: str,
    patch: Patch,
    actor_id: uuid.UUID | None,
) -> AppliedOp | None:
    row = await res.queries.pages.find_op(conn, page_id=page_id, op_id=op_id)
    if row is None:
        return None
    if row.patch != patch or row.actor != actor_id:
        # Another edit (or another user's) under this opId: never acked as ours.
        raise OpIdReused(f"opId {op_id!r} was already used for a different patch")
    return AppliedOp(row.version, row.op_id, row.patch, row.actor, duplicate=True)
