"""HTTP handlers of the flags context: the admin API (admin role, per the spec)
and the OFREP evaluation endpoints (any authenticated member)."""

from __future__ import annotations

import uuid
from typing import Any

from connexion import request
from connexion.lifecycle import ConnexionResponse

from lowcode.caller import caller
from lowcode.flags import ofrep, service
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, NoContent, json_reply, no_content
from lowcode.platform.responses import created as created_reply
from lowcode.resources import from_request


async def list_flags(page: int = 1, page_size: int = 20) -> JsonReply:
    result = await service.list_flags(from_request(request), PageRequest(page, page_size))
    return json_reply(result.to_api())


async def get_flag(key: str) -> JsonReply:
    return json_reply((await service.get_flag(from_request(request), key)).to_api())


async def put_flag(token_info: dict[str, Any], key: str, body: dict[str, Any]) -> JsonReply:
    spec = service.FlagWrite(
        description=body.get("description", ""),
        enabled=body["enabled"],
        default_variant=body.get("default_variant", "off"),
        allow_workspaces=[uuid.UUID(w) for w in body.get("allow_workspaces", [])],
        deny_workspaces=[uuid.UUID(w) for w in body.get("deny_workspaces", [])],
        rollout_percentage=body.get("rollout_percentage", 0),
    )
    res, actor = caller(token_info)
    flag, is_new = await service.put_flag(res, actor, key, spec)
    if is_new:
        return created_reply(flag.to_api(), request.url.path)
    return json_reply(flag.to_api())


async def delete_flag(token_info: dict[str, Any], key: str) -> NoContent:
    await service.delete_flag(*caller(token_info), key)
    return no_content()


async def evaluate_flag(token_info: dict[str, Any], key: str, body: Any = None) -> JsonReply:
    res, actor = caller(token_info)
    return json_reply(await ofrep.evaluate_one(res, actor, key, body))


async def evaluate_flags_bulk(
    token_info: dict[str, Any], body: Any = None
) -> JsonReply | NoContent:
    res, actor = caller(token_info)
    answer, etag = await ofrep.evaluate_all(res, actor, body)
    if ofrep.etag_matches(request.headers.get("if-none-match"), etag):
        return ConnexionResponse(status_code=304, headers={"ETag": etag})
    return json_reply(answer, headers={"ETag": etag})
