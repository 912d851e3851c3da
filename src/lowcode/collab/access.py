"""Authorisation stays live on open sockets (SPEC §4.6).

A socket is authorised once, at its handshake; what it may do afterwards is
asked again of Postgres (the truth, never a cache) whenever it could have
changed: before a room appends ops (unless its last answer still stands,
below), when a membership, role, session, user,
page or workspace change is announced (`events.publish.access_changed`),
periodically, and at the access token's expiry. The answer per socket:

- session revoked or expired, user disabled or deleted → close 4401;
- no longer a member of the page's workspace → close 4403;
- the page (or its workspace) deleted → close 4404;
- a viewer now → read-only (ops refused with FORBIDDEN); an editor again → writable.

Before appending, a room asks only when an answer it holds could be out of
date (`AccessEpoch`): every announced change moves the node's epoch at once,
as it arrives, so the next op of any socket is asked about again; without a
change, an answer is reused for `FRESH_S`. Asking Postgres before every batch
put a round trip in front of every append and multiplied the ack latency of a
busy room several times (scripts/bench collab).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from lowcode.platform.websocket.access import SESSION_ENDED
from lowcode.resources import Resources
from lowcode.workspaces.models import role_at_least


@dataclass(frozen=True, slots=True)
class Verdict:
    close: tuple[int, str] | None = None
    read_only: bool = True


NOT_A_MEMBER = (4403, "no longer a member of this workspace")
PAGE_GONE = (4404, "page not found")

# How long an answer stands when no change was announced meanwhile (a lost
# announcement is also caught by the periodic re-check, WS_ACCESS_RECHECK_S).
FRESH_S = 5.0


class AccessEpoch:
    """A node-wide counter of announced access changes, shared by the hub
    (which moves it) and its rooms (which compare against it)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def moved(self) -> None:
        self.value += 1


async def socket_verdicts(
    res: Resources, page_id: uuid.UUID, session_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Verdict]:
    """What each session's sockets on `page_id` may do now (one query)."""
    ids = list(set(session_ids))
    if not ids:
        return {}
    async with res.pool.acquire() as conn:
        rows = {
            r.session_id: r
            async for r in res.queries.pages.socket_access(conn, page_id=page_id, session_ids=ids)
        }
    verdicts: dict[uuid.UUID, Verdict] = {}
    for sid in ids:
        row = rows.get(sid)
        if row is None or not row.active:
            verdicts[sid] = Verdict(SESSION_ENDED)
        elif not row.page_live:
            verdicts[sid] = Verdict(PAGE_GONE)
        elif row.role is None:
            verdicts[sid] = Verdict(NOT_A_MEMBER)
        else:
            verdicts[sid] = Verdict(read_only=not role_at_least(row.role, "editor"))
    return verdicts
