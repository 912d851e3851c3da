"""Publishing a notification to a user: one Redis PUBLISH, every node delivers it
to that user's `/ws/events` sockets. Best effort: a notification is a hint to
refresh, never the only copy of anything, so failures are logged, not raised."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from redis.exceptions import RedisError

from lowcode.resources import Resources

log = logging.getLogger("lowcode.events")


def user_channel(res: Resources, user_id: uuid.UUID | str) -> str:
    return res.settings.redis_key("events", "user", str(user_id))


async def notify_user(
    res: Resources, user_id: uuid.UUID, frame_type: str, payload: dict[str, Any]
) -> None:
    frame = json.dumps({"type": frame_type, "payload": payload}, separators=(",", ":"))
    try:
        await res.redis.publish(user_channel(res, user_id), frame)
    except RedisError as e:
        log.warning("notification not published", extra={"type": frame_type, "error": str(e)})
