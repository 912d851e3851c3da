"""HTTP handlers of the datasets context."""

from __future__ import annotations

import uuid
from typing import Any

from lowcode.caller import caller
from lowcode.datasets import service
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, NoContent, json_reply, no_content
from lowcode.platform.responses import created as created_reply


async def list_datasets(
    token_info: dict[str, Any],
    workspace_id: str,
    datasource_id: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> JsonReply:
    result = await service.list_datasets(
        *caller(token_info),
        uuid.UUID(workspace_id),
        PageRequest(page, page_size),
        uuid.UUID(datasource_id) if datasource_id else None,
    )
    return json_reply(result.to_api())


async def create_dataset(
    token_info: dict[str, Any], workspace_id: str, body: dict[str, Any]
) -> JsonReply:
    created = await service.create_dataset(
        *caller(token_info),
        uuid.UUID(workspace_id),
        datasource_id=uuid.UUID(body["datasource_id"]),
        name=body["name"],
        description=body.get("description", ""),
        sql=body["sql"],
    )
    body = created.to_api()
    return created_reply(body, f"/api/v1/datasets/{body['id']}")


async def get_dataset(token_info: dict[str, Any], dataset_id: str) -> JsonReply:
    found = await service.get_dataset(*caller(token_info), uuid.UUID(dataset_id))
    return json_reply(found.to_api())


async def update_dataset(
    token_info: dict[str, Any], dataset_id: str, body: dict[str, Any]
) -> JsonReply:
    updated = await service.update_dataset(
        *caller(token_info),
        uuid.UUID(dataset_id),
        name=body.get("name"),
        description=body.get("description"),
        sql=body.get("sql"),
        expected_version=body.get("version"),
    )
    return json_reply(updated.to_api())


async def delete_dataset(token_info: dict[str, Any], dataset_id: str) -> NoContent:
    await service.delete_dataset(*caller(token_info), uuid.UUID(dataset_id))
    return no_content()


async def preview_dataset(
    token_info: dict[str, Any], dataset_id: str, limit: int = 100
) -> JsonReply:
    preview = await service.preview_dataset(*caller(token_info), uuid.UUID(dataset_id), limit)
    return json_reply(preview.to_api())
