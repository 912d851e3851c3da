"""HTTP handlers of the workspaces context (operationIds `lowcode.workspaces.handlers.*`)."""

from __future__ import annotations

import uuid
from typing import Any

from lowcode.caller import caller
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, NoContent, created, json_reply, no_content
from lowcode.workspaces import service


async def list_workspaces(
    token_info: dict[str, Any], page: int = 1, page_size: int = 20
) -> JsonReply:
    res, actor = caller(token_info)
    result = await service.list_workspaces(res, actor, PageRequest(page, page_size))
    return json_reply(result.to_api())


async def create_workspace(token_info: dict[str, Any], body: dict[str, Any]) -> JsonReply:
    workspace = await service.create_workspace(
        *caller(token_info), name=body["name"], description=body.get("description", "")
    )
    body = workspace.to_api()
    return created(body, f"/api/v1/workspaces/{body['id']}")


async def get_workspace(token_info: dict[str, Any], workspace_id: str) -> JsonReply:
    workspace = await service.get_workspace(*caller(token_info), uuid.UUID(workspace_id))
    return json_reply(workspace.to_api())


async def update_workspace(
    token_info: dict[str, Any], workspace_id: str, body: dict[str, Any]
) -> JsonReply:
    workspace = await service.update_workspace(
        *caller(token_info),
        uuid.UUID(workspace_id),
        name=body.get("name"),
        description=body.get("description"),
        expected_version=body.get("version"),
    )
    return json_reply(workspace.to_api())


async def delete_workspace(token_info: dict[str, Any], workspace_id: str) -> NoContent:
    await service.delete_workspace(*caller(token_info), uuid.UUID(workspace_id))
    return no_content()


async def list_members(
    token_info: dict[str, Any], workspace_id: str, page: int = 1, page_size: int = 20
) -> JsonReply:
    result = await service.list_members(
        *caller(token_info), uuid.UUID(workspace_id), PageRequest(page, page_size)
    )
    return json_reply(result.to_api())


async def add_member(
    token_info: dict[str, Any], workspace_id: str, body: dict[str, Any]
) -> JsonReply:
    res, actor = caller(token_info)
    if "email" in body:
        # 202 and the same body whether or not the email has an account.
        await service.add_member_by_email(
            res, actor, uuid.UUID(workspace_id), email=body["email"], role=body["role"]
        )
        return json_reply({"email": body["email"], "role": body["role"]}, 202)
    await res.limiter.hit(res.settings.rate_limit_add_member, "add-member", str(actor.user_id))
    member = await service.add_member(
        res,
        actor,
        uuid.UUID(workspace_id),
        user_id=uuid.UUID(body["user_id"]),
        email=None,
        role=body["role"],
    )
    body = member.to_api()
    return created(body, f"/api/v1/workspaces/{workspace_id}/members/{body['user_id']}")


async def update_member(
    token_info: dict[str, Any], workspace_id: str, user_id: str, body: dict[str, Any]
) -> JsonReply:
    member = await service.change_member_role(
        *caller(token_info), uuid.UUID(workspace_id), uuid.UUID(user_id), body["role"]
    )
    return json_reply(member.to_api())


async def remove_member(token_info: dict[str, Any], workspace_id: str, user_id: str) -> NoContent:
    await service.remove_member(*caller(token_info), uuid.UUID(workspace_id), uuid.UUID(user_id))
    return no_content()
