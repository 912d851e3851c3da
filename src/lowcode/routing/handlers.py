"""HTTP handlers of legacy routing's admin API (admin role, per the spec)."""

from __future__ import annotations

import uuid
from typing import Any

from connexion import request

from lowcode.caller import caller
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, json_reply
from lowcode.resources import from_request
from lowcode.routing import service


async def list_legacy_routes(page: int = 1, page_size: int = 20) -> JsonReply:
    result = await service.list_routes(from_request(request), PageRequest(page, page_size))
    return json_reply(result.to_api())


async def get_legacy_routes(workspace_id: str) -> JsonReply:
    routes = await service.get_routes(from_request(request), uuid.UUID(workspace_id))
    return json_reply(routes.to_api())


async def put_legacy_routes(
    token_info: dict[str, Any], workspace_id: str, body: dict[str, Any]
) -> JsonReply:
    routes = await service.put_routes(
        *caller(token_info), uuid.UUID(workspace_id), body["legacy_tags"]
    )
    return json_reply(routes.to_api())
