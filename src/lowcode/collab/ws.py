"""`/ws/pages/{page_id}`: authenticate, check the page, join its room, read frames.

Close codes: 4401 bad token, and later a revoked or expired session, a
disabled or deleted user or the access token's expiry; 4403 no longer a member
of the page's workspace; 4404 no such page or not visible (no room is ever
created for it), or the page deleted meanwhile; 4429 room full or too many
sockets / handshakes of this user, 1013 too many rooms on this process
(retry), 1012 server restarting. Authorisation stays live: `collab.access`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket

from lowcode.collab.access import TOKEN_EXPIRED
from lowcode.collab.connection import Connection, Member, TokenBucket
from lowcode.collab.hub import Hub, RoomFull, ShuttingDown, TooManyRooms
from lowcode.collab.inbox import Cursor, Op, SyncRequest
from lowcode.collab.protocol import ProtocolError, encode, error_frame
from lowcode.collab.room import Room
from lowcode.identity.sessions_cache import session_state
from lowcode.platform.errors import AppError
from lowcode.platform.request_context import STATE_KEY, RequestState
from lowcode.resources import STATE_RESOURCES, Resources
from lowcode.settings import Settings
from lowcode.workspaces.models import role_at_least

log = logging.getLogger("lowcode.collab.ws")

SUBPROTOCOL = "lowcode.v1"
BEARER_PREFIX = "bearer."
# Cursor moves a client may have waiting in its room's inbox; more are dropped.
MAX_CURSORS_IN_FLIGHT = 4
STATE_HUB = "lowcode.hub"


def _token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """(token, subprotocol to select): from `bearer.<token>` subprotocol or the query."""
    offered = websocket.scope.get("subprotocols") or []
    for proto in offered:
        if proto.startswith(BEARER_PREFIX):
            return proto[len(BEARER_PREFIX) :], SUBPROTOCOL if SUBPROTOCOL in offered else None
    chosen = SUBPROTOCOL if SUBPROTOCOL in offered else None
    return websocket.query_params.get("access_token"), chosen


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: uuid.UUID
    name: str
    session_id: uuid.UUID
    expires_at: int  # the access token's `exp` (Unix seconds): the socket closes then


def close_at_expiry(who: Identity, conn: Connection) -> asyncio.TimerHandle:
    """Close `conn` with 4401 when the access token it was opened with expires."""
    loop = asyncio.get_running_loop()
    delay = max(0.0, who.expires_at - time.time())
    return loop.call_later(delay, conn.close, *TOKEN_EXPIRED)


async def authenticate(res: Resources, websocket: WebSocket) -> Identity | None:
    """Accept the socket and return who it is, or close it with 4401."""
    token, subprotocol = _token(websocket)
    await websocket.accept(subprotocol=subprotocol)
    try:
        if not token:
            raise ValueError("no token")
        claims = res.tokens.decode_access(token)
        state = await session_state(res, claims.session_id)
        if state is None or not state.active or state.user_id != claims.user_id:
            raise ValueError("session not active")
    except (AppError, ValueError):
        await websocket.close(4401, "invalid or missing access token")
        return None
    async with res.pool.acquire() as conn:
        user = await res.queries.identity.get_user(conn, user_id=claims.user_id)
    if user is None:
        await websocket.close(4401, "unknown user")
        return None
    request_state = websocket.scope.get("state", {}).get(STATE_KEY)
    if isinstance(request_state, RequestState):
        request_state.user_id = str(user.id)  # for the access log's lines
    return Identity(user.id, user.display_name, claims.session_id, claims.expires_at)


async def page_socket(websocket: WebSocket) -> None:
    res: Resources = websocket.scope["state"][STATE_RESOURCES]
    hub: Hub = websocket.scope["state"][STATE_HUB]
    if hub.closing:
        await websocket.close(1012)
        return
    # The handshake's checks are the socket's first access answer: taken at
    # the epoch before them, so a change announced meanwhile is asked again.
    asked = (hub.access_epoch.value, time.monotonic())
    who = await authenticate(res, websocket)
    if who is None:
        return
    refused = hub.admission.admit(who.user_id)
    if refused is not None:
        await websocket.close(4429, refused)
        return
    try:
        refusal = await _serve_page(res, hub, websocket, who, asked)
    finally:
        hub.admission.release(who.user_id)
    # Closed only after the slot is released: a client told to retry (1013)
    # or that its other socket ended must find its slot free when it does.
    if refusal is not None:
        await websocket.close(*refusal)


async def _serve_page(
    res: Resources, hub: Hub, websocket: WebSocket, who: Identity, asked: tuple[int, float]
) -> tuple[int, str] | None:
    """Serve the socket until it ends; (close code, reason) when it is refused."""
    try:
        page_id = uuid.UUID(websocket.path_params["page_id"])
    except ValueError:
        return 4404, "page not found"
    async with res.pool.acquire() as conn:
        page = await res.queries.pages.get_page_for_member(
            conn, page_id=page_id, user_id=who.user_id
        )
    if page is None or page.my_role is None:
        return 4404, "page not found"
    settings = res.settings
    client = Connection(
        websocket,
        Member(who.user_id, who.name),
        read_only=not role_at_least(page.my_role, "editor"),
        queue_size=settings.ws_send_queue,
        metrics=hub.metrics,
        queue_bytes=settings.ws_send_queue_bytes,
        session_id=who.session_id,
        access_checked=asked,
    )
    try:
        room = await hub.join(page_id, client)
    except RoomFull:
        return 4429, "room full"
    except TooManyRooms:
        return 1013, "too many rooms open on this server; retry"
    except ShuttingDown:
        return 1012, "server restarting"
    client.start_writer()
    expiry = close_at_expiry(who, client)
    try:
        await Reader(hub, room, client, settings).run()
    finally:
        expiry.cancel()
        hub.leave(room, client)
        client.close(1000)
    return None


class Reader:
    """One client's frames into its room's inbox, each kind bounded: ops by a
    token bucket and a count in flight (and the room by an inbox byte budget),
    cursor moves by a bucket and a few in flight (the excess is dropped:
    presence is lossy), sync requests by a bucket and one pending at a time."""

    def __init__(self, hub: Hub, room: Room, client: Connection, settings: Settings) -> None:
        self.hub, self.room, self.client, self.settings = hub, room, client, settings
        self.op_bucket = TokenBucket.parse(settings.ws_op_rate)
        self.cursor_bucket = TokenBucket.parse(settings.ws_cursor_rate)
        self.sync_bucket = TokenBucket.parse(settings.ws_sync_rate)

    async def run(self) -> None:
        metrics, client = self.hub.metrics, self.client
        max_bytes = self.settings.ws_max_message_bytes
        while True:
            message = await client.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if client.closed:
                continue  # being dropped; drain until the peer goes
            text = message.get("text")
            if text is None:
                metrics.ws_messages.labels("in", "binary").inc()
                client.offer(error_frame("INVALID_MESSAGE", "binary frames are not supported"))
                continue
            if len(text) > max_bytes:
                metrics.ws_messages.labels("in", "too-large").inc()
                client.offer(error_frame("TOO_LARGE", f"frames are limited to {max_bytes} bytes"))
                continue
            try:
                frame = self.hub.protocol.parse_client(text)
            except ProtocolError as e:
                metrics.ws_messages.labels("in", "invalid").inc()
                client.offer(error_frame(e.code, e.message))
                continue
            metrics.ws_messages.labels("in", frame["type"]).inc()
            self._dispatch(frame["type"], frame.get("payload") or {}, len(text))

    def _dispatch(self, kind: str, payload: dict[str, Any], size: int) -> None:
        client, room = self.client, self.room
        if kind == "op-patch":
            if (
                not self.op_bucket.allow()
                or client.ops_in_flight >= self.settings.ws_max_ops_in_flight
                or room.inbox_bytes + size > self.settings.ws_room_inbox_bytes
            ):
                client.offer(
                    error_frame("RATE_LIMITED", "too many ops; slow down", opId=payload["opId"])
                )
                return
            client.ops_in_flight += 1
            room.inbox_bytes += size
            room.post(
                Op(
                    client,
                    payload["patches"],
                    payload["baseVersion"],
                    payload["opId"],
                    time.perf_counter(),
                    size,
                )
            )
        elif kind == "cursor-move":
            if client.cursors_in_flight < MAX_CURSORS_IN_FLIGHT and self.cursor_bucket.allow():
                client.cursors_in_flight += 1
                room.post(Cursor(client, payload))
        elif kind == "sync-request":
            if client.sync_pending:
                return  # the sync on its way answers this one too
            if not self.sync_bucket.allow():
                client.offer(error_frame("RATE_LIMITED", "too many requests; slow down"))
                return
            client.sync_pending = True
            room.post(SyncRequest(client))
        else:  # ping
            client.offer(encode("pong", {}))
