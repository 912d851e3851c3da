"""`/ws/pages/{page_id}`: authenticate, check the page, join its room, read frames.

Close codes: 4401 bad token, and later a revoked or expired session, a
disabled or deleted user or the access token's expiry; 4403 no longer a member
of the page's workspace; 4404 no such page or not visible (no room is ever
created for it), or the page deleted meanwhile; 4429 room full or too many
sockets / handshakes of this user, 1013 too many rooms on this process
(retry), 1012 server restarting. Authorisation stays live: `collab.access`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.exceptions import WebSocketException
from starlette.websockets import WebSocket

from lowcode.collab.connection import Connection
from lowcode.collab.hub import Hub, RoomFull, ShuttingDown, TooManyRooms
from lowcode.collab.inbox import Cursor, Op, SyncRequest
from lowcode.collab.room import Room
from lowcode.identity.security import SocketUser, websocket_user
from lowcode.platform.websocket.access import close_at_expiry
from lowcode.platform.websocket.connection import Member
from lowcode.platform.websocket.limits import TokenBucket
from lowcode.platform.websocket.protocol import ProtocolError, encode, error_frame
from lowcode.resources import STATE_RESOURCES, Resources
from lowcode.settings import Settings
from lowcode.workspaces.models import role_at_least

# Cursor moves a client may have waiting in its room's inbox; more are dropped.
MAX_CURSORS_IN_FLIGHT = 4
STATE_HUB = "lowcode.hub"


async def page_socket(websocket: WebSocket) -> None:
    res: Resources = websocket.scope["state"][STATE_RESOURCES]
    hub: Hub = websocket.scope["state"][STATE_HUB]
    if hub.closing:
        raise WebSocketException(1012)
    # The handshake's checks are the socket's first access answer: taken at
    # the epoch before them, so a change announced meanwhile is asked again.
    asked = (hub.access_epoch.value, time.monotonic())
    who = await websocket_user(res, websocket)
    user_id = who.actor.user_id
    refused = hub.admission.admit(user_id)
    if refused is not None:
        raise WebSocketException(4429, refused)
    try:
        await _serve_page(res, hub, websocket, who, asked)
    finally:
        # Before a refusal's close goes out (the exception passes here first):
        # a client told to retry (1013) or that its other socket ended must
        # find its slot free when it does.
        hub.admission.release(user_id)


async def _serve_page(
    res: Resources, hub: Hub, websocket: WebSocket, who: SocketUser, asked: tuple[int, float]
) -> None:
    """Serve the socket until it ends; WebSocketException when it is refused."""
    try:
        page_id = uuid.UUID(websocket.path_params["page_id"])
    except ValueError:
        raise WebSocketException(4404, "page not found") from None
    async with res.pool.acquire() as conn:
        page = await res.queries.pages.get_page_for_member(
            conn, page_id=page_id, user_id=who.actor.user_id
        )
    if page is None or page.my_role is None:
        raise WebSocketException(4404, "page not found")
    settings = res.settings
    client = Connection(
        websocket,
        Member(who.actor.user_id, who.name),
        read_only=not role_at_least(page.my_role, "editor"),
        queue_size=settings.ws_send_queue,
        metrics=hub.metrics,
        queue_bytes=settings.ws_send_queue_bytes,
        session_id=who.actor.session_id,
        access_checked=asked,
    )
    try:
        room = await hub.join(page_id, client)
    except RoomFull:
        raise WebSocketException(4429, "room full") from None
    except TooManyRooms:
        raise WebSocketException(1013, "too many rooms open on this server; retry") from None
    except ShuttingDown:
        raise WebSocketException(1012, "server restarting") from None
    client.start_writer()
    expiry = close_at_expiry(who.expires_at, client)
    try:
        await Reader(hub, room, client, settings).run()
    finally:
        expiry.cancel()
        hub.leave(room, client)
        client.close(1000)


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
