"""Publishing a notification to a user: one Redis PUBLISH, every node delivers it
to that user's `/ws/events` sockets. Best effort: a notification is a hint to
refresh, never the only copy of anything, so failures are logged, not raised."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from redis.exceptions import RedisError

from lowcode.platform.websocket.protocol import encode
from lowcode.resources import Resources

log = logging.getLogger("lowcode.events")


def user_channel(res: Resources, user_id: uuid.UUID | str) -> str:
    return res.settings.redis_key("events", "user", str(user_id))


async def notify_user(
    res: Resources, user_id: uuid.UUID, frame_type: str, payload: dict[str, Any]
) -> None:
    frame = encode(frame_type, payload)
    try:
        await res.redis.publish(user_channel(res, user_id), frame.text)
    except RedisError as e:
        log.warning("notification not published", extra={"type": frame_type, "error": str(e)})


def access_channel(res: Resources) -> str:
    return res.settings.redis_key("events", "access")


async def access_changed(
    res: Resources,
    *,
    users: list[uuid.UUID] | None = None,
    pages: list[uuid.UUID] | None = None,
    workspaces: list[uuid.UUID] | None = None,
) -> None:
    """After a commit that changed who may do what (a membership, a role, a
    session, a user, a deleted page or workspace): every node re-checks the
    open sockets concerned (`collab.hub.Hub.access_changed`). Best effort like
    any notification: ops are checked against Postgres anyway, and every node
    re-checks all its sockets periodically and after its subscription was lost."""
    message = {
        "users": [str(u) for u in users or ()],
        "pages": [str(p) for p in pages or ()],
        "workspaces": [str(w) for w in workspaces or ()],
    }
    try:
        await res.redis.publish(access_channel(res), json.dumps(message, separators=(",", ":")))
    except RedisError as e:
        log.warning("access change not published", extra={"error": str(e)})
