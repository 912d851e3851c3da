"""Baseline for the collaboration case: one in-memory room per path, ack and fan
out immediately — no auth, no validation, no database, no durability."""

from __future__ import annotations

import json
from collections import defaultdict

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

rooms: dict[str, set[WebSocket]] = defaultdict(set)
versions: dict[str, int] = defaultdict(lambda: 1)


async def room(ws: WebSocket) -> None:
    page = ws.path_params["page"]
    await ws.accept()
    rooms[page].add(ws)
    await ws.send_text(json.dumps({"type": "sync", "payload": {"version": versions[page]}}))
    try:
        while True:
            frame = json.loads(await ws.receive_text())
            p = frame["payload"]
            versions[page] += 1
            v = versions[page]
            await ws.send_text(
                json.dumps({"type": "ack", "payload": {"opId": p["opId"], "version": v}})
            )
            out = json.dumps(
                {
                    "type": "op-patch",
                    "payload": {
                        "patches": p["patches"],
                        "version": v,
                        "opId": p["opId"],
                        "actor": None,
                    },
                }
            )
            for other in list(rooms[page]):
                if other is not ws:
                    await other.send_text(out)
    except WebSocketDisconnect:
        pass
    finally:
        rooms[page].discard(ws)


app = Starlette(routes=[WebSocketRoute("/ws/{page}", room)])
