"""HTTP handlers of the datasources context."""

from __future__ import annotations

import uuid
from typing import Any

from lowcode.caller import caller
from lowcode.datasources import service
from lowcode.datasources.service import UNCHANGED, DatasourceFields
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, NoContent, json_reply, no_content
from lowcode.platform.responses import created as created_reply


def _fields(body: dict[str, Any]) -> DatasourceFields:
    keys = ("name", "description", "host", "port", "database", "username", "ssl_mode")
    return DatasourceFields(**{k: body.get(k) for k in keys})


async def list_datasources(
    token_info: dict[str, Any], workspace_id: str, page: int = 1, page_size: int = 20
) -> JsonReply:
    result = await service.list_datasources(
        *caller(token_info), uuid.UUID(workspace_id), PageRequest(page, page_size)
    )
    return json_reply(result.to_api())


async def create_datasource(
    token_info: dict[str, Any], workspace_id: str, body: dict[str, Any]
) -> JsonReply:
    created = await service.create_datasource(
        *caller(token_info), uuid.UUID(workspace_id), _fields(body), body.get("password")
    )
    body = created.to_api()
    return created_reply(body, f"/api/v1/datasources/{body['id']}")


async def get_datasource(token_info: dict[str, Any], datasource_id: str) -> JsonReply:
    found = await service.get_datasource(*caller(token_info), uuid.UUID(datasource_id))
    return json_reply(found.to_api())


async def update_datasource(
    token_info: dict[str, Any], datasource_id: str, body: dict[str, Any]
) -> JsonReply:
    updated = await service.update_datasource(
        *caller(token_info),
        uuid.UUID(datasource_id),
        _fields(body),
        body.get("password", UNCHANGED),
        body.get("version"),
    )
    return json_reply(updated.to_api())


async def delete_datasource(token_info: dict[str, Any], datasource_id: str) -> NoContent:
    await service.delete_datasource(*caller(token_info), uuid.UUID(datasource_id))
    return no_content()


async def test_datasource(token_info: dict[str, Any], datasource_id: str) -> JsonReply:
    check = await service.test_datasource(*caller(token_info), uuid.UUID(datasource_id))
    return json_reply(check.to_api())
