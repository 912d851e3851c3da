"""The wire protocol of both sockets, validated against `api/asyncapi/collab.yaml`
(which describes `/ws/pages/{page_id}` and `/ws/events`).

Frames are `{"type": ..., "payload": {...}}` JSON text. Incoming frames are
checked against the client → server schemas of the AsyncAPI document; the
server → client schemas are what the tests check every outgoing frame with.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema_rs
from jsonschema import Draft202012Validator

from lowcode.platform import jsoncodec, jsoninput
from lowcode.platform.contracts import load_yaml

# Message name → schema name, per direction (op-patch exists in both).
CLIENT_FRAMES = {
    "op-patch": "OpPatchRequestFrame",
    "cursor-move": "CursorMoveRequestFrame",
    "sync-request": "SyncRequestFrame",
    "ping": "PingFrame",
}
SERVER_FRAMES = {
    "sync": "SyncFrame",
    "ack": "AckFrame",
    "op-patch": "OpPatchFrame",
    "user-join": "UserJoinFrame",
    "user-leave": "UserLeaveFrame",
    "cursor-move": "CursorMoveFrame",
    "pong": "PongFrame",
    "error": "ErrorFrame",
    "membership-changed": "MembershipChangedFrame",
    "sync-run-progress": "SyncRunProgressFrame",
    "sync-run-finished": "SyncRunFinishedFrame",
}


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Protocol:
    """Validators built once per process from the AsyncAPI document.

    Client frames are parsed strictly (`jsoninput`: nesting limit, no NaN —
    a cursor at `NaN` would be rebroadcast and break every browser's
    `JSON.parse`) and checked with jsonschema-rs (fast enough that an op
    frame of a megabyte costs milliseconds, not the room's event loop time);
    server frames keep the Python validator, which only the tests use."""

    def __init__(self, asyncapi_file: Path, max_depth: int = 64) -> None:
        doc = load_yaml(asyncapi_file)
        components = doc["components"]
        self.max_depth = max_depth

        def root(schema_name: str) -> dict[str, Any]:
            return {"$ref": f"#/components/schemas/{schema_name}", "components": components}

        def validator(schema_name: str) -> Draft202012Validator:
            return Draft202012Validator(root(schema_name))

        self.client = {
            t: jsonschema_rs.Draft202012Validator(root(s), mask="the value")
            for t, s in CLIENT_FRAMES.items()
        }
        self.server = {t: validator(s) for t, s in SERVER_FRAMES.items()}
        self.notification = validator("NotificationFrame")

    def parse_client(self, text: str) -> dict[str, Any]:
        """A validated client frame, or ProtocolError(INVALID_MESSAGE)."""
        try:
            frame = jsoninput.parse(text, self.max_depth)
        except jsoninput.InvalidJson as e:
            raise ProtocolError("INVALID_MESSAGE", str(e)[:300]) from e
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise ProtocolError("INVALID_MESSAGE", 'a frame is {"type": ..., "payload": {...}}')
        validator = self.client.get(frame["type"])
        if validator is None:
            raise ProtocolError("INVALID_MESSAGE", f"unknown message type {frame['type'][:40]!r}")
        errors = sorted(
            validator.iter_errors(frame), key=lambda e: [str(p) for p in e.instance_path]
        )
        if errors:
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e.instance_path) or '(frame)'}: {e.message[:200]}"
                for e in errors[:3]
            )
            raise ProtocolError("INVALID_MESSAGE", detail)
        return dict(frame)

    def server_errors(self, frame: dict[str, Any]) -> list[str]:
        """Schema violations of an outgoing frame (used by the tests)."""
        validator = self.server.get(frame.get("type", ""), self.notification)
        return [e.message for e in validator.iter_errors(frame)]


@functools.cache
def load_protocol(asyncapi_file: Path, max_depth: int = 64) -> Protocol:
    return Protocol(asyncapi_file, max_depth)


# The kind of the frames `/ws/events` relays: published by any process
# (`events.publish`), they reach the bus as text.
NOTIFICATION = "notification"


class Frame(NamedTuple):
    """A server frame as sent: its JSON text, and its type beside it (a
    connection counts what it sends by type) so nothing parses the text back."""

    kind: str
    text: str


def encode(kind: str, payload: dict[str, Any]) -> Frame:
    """A server frame as compact JSON text. Made once per frame, whatever it
    is sent to (a room's broadcast, a notification to every node)."""
    return Frame(kind, jsoncodec.dumps({"type": kind, "payload": payload}))


def error_frame(code: str, message: str, **extra: Any) -> Frame:
    return encode("error", {"code": code, "message": message, **extra})
