from __future__ import annotations

from typing import Any

from connexion import request

from lowcode.identity import service
from lowcode.platform.responses import JsonReply, json_reply
from lowcode.resources import from_request


async def register(body: dict[str, Any]) -> JsonReply:
    user = await service.register_user(
        from_request(request),
        email=body["email"],
        password=body["password"],
        display_name=body["display_name"],
    )
    return json_reply(user.to_api(), 201)
