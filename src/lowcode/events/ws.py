"""`/ws/events`: a user's notification stream (membership changes, finished syncs…)."""

from __future__ import annotations

from starlette.exceptions import WebSocketException
from starlette.websockets import WebSocket

from lowcode.events.bus import EventBus
from lowcode.identity.security import websocket_user
from lowcode.platform.websocket.access import close_at_expiry
from lowcode.platform.websocket.connection import Connection, Member
from lowcode.platform.websocket.protocol import (
    ProtocolError,
    encode,
    error_frame,
    load_protocol,
)
from lowcode.resources import STATE_RESOURCES, Resources

STATE_EVENTS = "lowcode.events"
# Clients only send pings here.
MAX_FRAME = 1024


async def events_socket(websocket: WebSocket) -> None:
    res: Resources = websocket.scope["state"][STATE_RESOURCES]
    bus: EventBus = websocket.scope["state"][STATE_EVENTS]
    if res.shutting_down.is_set():
        raise WebSocketException(1012)
    who = await websocket_user(res, websocket)
    user_id = who.actor.user_id
    admission = bus.admission
    refused = admission.admit(user_id)
    if refused is not None:
        raise WebSocketException(4429, refused)
    protocol = load_protocol(res.settings.asyncapi_file, res.settings.json_max_depth)
    conn = Connection(
        websocket,
        Member(user_id, who.name),
        queue_size=64,
        session_id=who.actor.session_id,
    )
    conn.start_writer()
    expiry = close_at_expiry(who.expires_at, conn)
    bus.add(user_id, conn)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or ""
            if len(text) > MAX_FRAME:
                conn.offer(
                    error_frame("TOO_LARGE", f"frames here are limited to {MAX_FRAME} bytes")
                )
                continue
            try:
                frame = protocol.parse_client(text)
            except ProtocolError as e:
                conn.offer(error_frame(e.code, e.message))
                continue
            if frame["type"] == "ping":
                conn.offer(encode("pong", {}))
            else:
                conn.offer(error_frame("INVALID_MESSAGE", "this channel only accepts ping"))
    finally:
        expiry.cancel()
        bus.remove(user_id, conn)
        admission.release(user_id)
        conn.close(1000)
