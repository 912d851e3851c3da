"""HTTP handlers of the identity context (operationIds `lowcode.identity.handlers.*`)."""

from __future__ import annotations

import uuid
from typing import Any

from connexion import request

from lowcode.caller import caller
from lowcode.identity import service, users
from lowcode.identity.service import ClientInfo
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, NoContent, created, json_reply, no_content
from lowcode.resources import from_request


def _client() -> ClientInfo:
    return ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


async def register(body: dict[str, Any]) -> JsonReply:
    user = await service.register_user(
        from_request(request),
        email=body["email"],
        password=body["password"],
        display_name=body["display_name"],
        client=_client(),
    )
    body = user.to_api()
    return created(body, f"/api/v1/users/{body['id']}")


async def login(body: dict[str, Any]) -> JsonReply:
    pair = await service.login(
        from_request(request), email=body["email"], password=body["password"], client=_client()
    )
    return json_reply(pair.to_api(), headers={"Cache-Control": "no-store"})


async def refresh(body: dict[str, Any]) -> JsonReply:
    pair = await service.refresh(from_request(request), refresh_token=body["refresh_token"])
    return json_reply(pair.to_api(), headers={"Cache-Control": "no-store"})


async def logout(body: dict[str, Any]) -> NoContent:
    await service.logout(from_request(request), refresh_token=body["refresh_token"])
    return no_content()


async def list_sessions(
    token_info: dict[str, Any], page: int = 1, page_size: int = 20
) -> JsonReply:
    res, actor = caller(token_info)
    result = await service.list_sessions(res, actor, PageRequest(page, page_size))
    return json_reply(result.to_api())


async def revoke_session(token_info: dict[str, Any], session_id: str) -> NoContent:
    res, actor = caller(token_info)
    await service.revoke_own_session(res, actor, uuid.UUID(session_id))
    return no_content()


async def change_password(token_info: dict[str, Any], body: dict[str, Any]) -> NoContent:
    await service.change_password(
        *caller(token_info),
        current_password=body["current_password"],
        new_password=body["new_password"],
    )
    return no_content()


async def get_me(token_info: dict[str, Any]) -> JsonReply:
    res, actor = caller(token_info)
    return json_reply((await users.get_user(res, actor.user_id)).to_api())


async def update_me(token_info: dict[str, Any], body: dict[str, Any]) -> JsonReply:
    res, actor = caller(token_info)
    user = await users.update_display_name(res, actor, body["display_name"])
    return json_reply(user.to_api())


async def list_users(
    q: str | None = None,
    role: str | None = None,
    disabled: bool | None = None,
    page: int = 1,
    page_size: int = 20,
) -> JsonReply:
    result = await users.search_users(
        from_request(request),
        query=q,
        role=role,
        disabled=disabled,
        page=PageRequest(page, page_size),
    )
    return json_reply(result.to_api())


async def get_user(user_id: str) -> JsonReply:
    return json_reply((await users.get_user(from_request(request), uuid.UUID(user_id))).to_api())


async def update_user(token_info: dict[str, Any], user_id: str, body: dict[str, Any]) -> JsonReply:
    user = await users.update_user(
        *caller(token_info),
        uuid.UUID(user_id),
        role=body.get("role"),
        disabled=body.get("disabled"),
    )
    return json_reply(user.to_api())


async def delete_user(token_info: dict[str, Any], user_id: str) -> NoContent:
    res, actor = caller(token_info)
    await users.delete_user(res, actor, uuid.UUID(user_id))
    return no_content()


async def jwks() -> JsonReply:
    keys = from_request(request).tokens.jwks()
    return json_reply(keys, headers={"Cache-Control": "public, max-age=300"})
