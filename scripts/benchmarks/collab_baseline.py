"""Baseline for the collaboration case: one in-memory room per path that acks
and fans out at once — no auth, no database, no durability, no ordering beyond
a counter — but it parses and validates every client frame with the
service's own validator (compiled once from the AsyncAPI document), as the
service does, so the difference is what durability and ordering cost."""

from __future__ import annotations

import json
from collections import defaultdict

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from lowcode.platform.websocket.protocol import ProtocolError, encode, error_frame, load_protocol
from lowcode.settings import PROJECT_ROOT

PROTOCOL = load_protocol(PROJECT_ROOT / "api/asyncapi/collab.yaml")
rooms: dict[str, set[WebSocket]] = defaultdict(set)
versions: dict[str, int] = defaultdict(lambda: 1)


async def room(ws: WebSocket) -> None:
    page = ws.path_params["page"]
    await ws.accept()
    rooms[page].add(ws)
    await ws.send_text(json.dumps({"type": "sync", "payload": {"version": versions[page]}}))
    try:
        while True:
            try:
                frame = PROTOCOL.parse_client(await ws.receive_text())
            except ProtocolError as e:
                await ws.send_text(error_frame(e.code, e.message).text)
                continue
            p = frame["payload"]
            versions[page] += 1
            v = versions[page]
            await ws.send_text(encode("ack", {"opId": p["opId"], "version": v}).text)
            out = encode(
                "op-patch",
                {"patches": p["patches"], "version": v, "opId": p["opId"], "actor": None},
            )
            for other in list(rooms[page]):
                if other is not ws:
                    await other.send_text(out.text)
    except WebSocketDisconnect:
        pass
    finally:
        rooms[page].discard(ws)


app = Starlette(routes=[WebSocketRoute("/ws/{page}", room)])
