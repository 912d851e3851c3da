"""`/ws/pages/{page_id}`: authenticate, check the page, join its room, read frames.

Close codes: 4401 bad token, 4404 no such page or not visible (no room is ever
created for it), 4429 room full, 1012 server restarting.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.websockets import WebSocket

from lowcode.collab.connection import Connection, Member
from lowcode.collab.hub import Hub, RoomFull, ShuttingDown
from lowcode.collab.inbox import Cursor, Leave, Op, SyncRequest
from lowcode.collab.protocol import ProtocolError, encode, error_frame
from lowcode.identity.sessions_cache import session_state
from lowcode.platform.errors import AppError
from lowcode.resources import STATE_RESOURCES, Resources
from lowcode.workspaces.models import role_at_least

log = logging.getLogger("lowcode.collab.ws")

SUBPROTOCOL = "lowcode.v1"
BEARER_PREFIX = "bearer."
STATE_HUB = "lowcode.hub"


def _token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """(token, subprotocol to select): from `bearer.<token>` subprotocol or the query."""
    offered = websocket.scope.get("subprotocols") or []
    for proto in offered:
        if proto.startswith(BEARER_PREFIX):
            return proto[len(BEARER_PREFIX) :], SUBPROTOCOL if SUBPROTOCOL in offered else None
    chosen = SUBPROTOCOL if SUBPROTOCOL in offered else None
    return websocket.query_params.get("access_token"), chosen


async def authenticate(res: Resources, websocket: WebSocket) -> tuple[uuid.UUID, str] | None:
    """Accept the socket and return (user id, display name), or close it with 4401."""
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
    return user.id, user.display_name


async def page_socket(websocket: WebSocket) -> None:
    res: Resources = websocket.scope["state"][STATE_RESOURCES]
    hub: Hub = websocket.scope["state"][STATE_HUB]
    if hub.closing:
        await websocket.close(1012)
        return
    who = await authenticate(res, websocket)
    if who is None:
        return
    user_id, name = who
    try:
        page_id = uuid.UUID(websocket.path_params["page_id"])
    except ValueError:
        await websocket.close(4404, "page not found")
        return
    async with res.pool.acquire() as conn:
        page = await res.queries.pages.get_page_for_member(conn, page_id=page_id, user_id=user_id)
    if page is None or page.my_role is None:
        await websocket.close(4404, "page not found")
        return
    settings = res.settings
    client = Connection(
        websocket,
        Member(user_id, name),
        read_only=not role_at_least(page.my_role, "editor"),
        queue_size=settings.ws_send_queue,
        metrics=hub.metrics,
    )
    try:
        room = await hub.join(page_id, client)
    except RoomFull:
        await websocket.close(4429, "room full")
        return
    except ShuttingDown:
        await websocket.close(1012, "server restarting")
        return
    client.start_writer()
    try:
        await _read(hub, room.inbox, client, websocket, settings.ws_max_message_bytes)
    finally:
        room.inbox.put_nowait(Leave(client))
        client.close(1000)


async def _read(hub: Hub, inbox, client: Connection, websocket: WebSocket, max_bytes: int) -> None:  # type: ignore[no-untyped-def]
    metrics = hub.metrics
    while True:
        message = await websocket.receive()
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
            frame = hub.protocol.parse_client(text)
        except ProtocolError as e:
            metrics.ws_messages.labels("in", "invalid").inc()
            client.offer(error_frame(e.code, e.message))
            continue
        kind = frame["type"]
        metrics.ws_messages.labels("in", kind).inc()
        payload = frame.get("payload") or {}
        if kind == "op-patch":
            if not hub.op_gate.allow(client.id):
                client.offer(
                    error_frame("RATE_LIMITED", "too many ops; slow down", opId=payload["opId"])
                )
                continue
            inbox.put_nowait(
                Op(
                    client,
                    payload["patches"],
                    payload["baseVersion"],
                    payload["opId"],
                    time.perf_counter(),
                )
            )
        elif kind == "cursor-move":
            if hub.cursor_gate.allow(client.id):  # presence is lossy by design
                inbox.put_nowait(Cursor(client, payload))
        elif kind == "sync-request":
            if hub.sync_gate.allow(client.id):
                inbox.put_nowait(SyncRequest(client))
            else:
                client.offer(error_frame("RATE_LIMITED", "too many requests; slow down"))
        else:  # ping
            client.offer(encode("pong", {}))
