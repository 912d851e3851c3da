"""HTTP handlers of the pages context (operationIds `lowcode.pages.handlers.*`)."""

from __future__ import annotations

import uuid
from typing import Any

from connexion import request

from lowcode.caller import caller
from lowcode.pages import service
from lowcode.pages.errors import PreconditionRequired
from lowcode.pages.models import Page, parse_version_tag
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, NoContent, json_reply, no_content
from lowcode.platform.validation import validated_body
from lowcode.resources import live_pages_from


def _page_reply(page: Page, status: int = 200, location: str | None = None) -> JsonReply:
    headers = {"ETag": f'"{page.version}"'}
    if location is not None:
        headers["Location"] = location
    return json_reply(page.to_api(), status, headers=headers)


def _if_match_version() -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    return parse_version_tag(raw)


async def list_pages(
    token_info: dict[str, Any],
    workspace_id: str,
    q: str | None = None,
    sort: str = "-updated_at",
    page: int = 1,
    page_size: int = 20,
) -> JsonReply:
    result = await service.list_pages(
        *caller(token_info),
        uuid.UUID(workspace_id),
        query=q,
        sort=sort,
        page=PageRequest(page, page_size),
    )
    return json_reply(result.to_api())


# The write handlers below take the document from `validated_body` instead of
# a `body` argument: Connexion would parse the same (up to 2 MiB) body again.


async def create_page(token_info: dict[str, Any], workspace_id: str) -> JsonReply:
    body = validated_body(request)
    created = await service.create_page(
        *caller(token_info),
        uuid.UUID(workspace_id),
        title=body["title"],
        document=body.get("schema"),
    )
    return _page_reply(created, 201, location=f"/api/v1/pages/{created.summary.id}")


async def get_page(token_info: dict[str, Any], page_id: str) -> JsonReply:
    page = await service.get_page(*caller(token_info), uuid.UUID(page_id), live_pages_from(request))
    return _page_reply(page)


async def update_page(token_info: dict[str, Any], page_id: str, body: dict[str, Any]) -> JsonReply:
    summary = await service.update_title(*caller(token_info), uuid.UUID(page_id), body["title"])
    return json_reply(summary.to_api())


async def delete_page(token_info: dict[str, Any], page_id: str) -> NoContent:
    await service.delete_page(*caller(token_info), uuid.UUID(page_id))
    return no_content()


async def replace_schema(token_info: dict[str, Any], page_id: str) -> JsonReply:
    body = validated_body(request)
    base = _if_match_version() or body.get("version")
    if base is None:
        raise PreconditionRequired("send If-Match or a body version: the version this replaces")
    page = await service.replace_document(
        *caller(token_info),
        uuid.UUID(page_id),
        base_version=base,
        document=body["schema"],
        op_id=body.get("opId"),
        live_pages=live_pages_from(request),
    )
    return _page_reply(page)


async def patch_page(token_info: dict[str, Any], page_id: str) -> JsonReply:
    body = validated_body(request)
    op = await service.patch_page(
        *caller(token_info),
        uuid.UUID(page_id),
        base_version=body["baseVersion"],
        patch=body["patches"],
        op_id=body["opId"],
    )
    return json_reply(op.to_api())


async def list_revisions(
    token_info: dict[str, Any], page_id: str, page: int = 1, page_size: int = 20
) -> JsonReply:
    result = await service.list_revisions(
        *caller(token_info), uuid.UUID(page_id), PageRequest(page, page_size)
    )
    return json_reply(result.to_api())


async def get_revision(token_info: dict[str, Any], page_id: str, revision: int) -> JsonReply:
    found = await service.get_revision(*caller(token_info), uuid.UUID(page_id), revision)
    return json_reply(found.to_api())


async def restore_revision(
    token_info: dict[str, Any], page_id: str, revision: int, body: dict[str, Any] | None = None
) -> JsonReply:
    body = body or {}
    op = await service.restore_revision(
        *caller(token_info),
        uuid.UUID(page_id),
        revision,
        base_version=body.get("baseVersion"),
        op_id=body.get("opId"),
    )
    return json_reply(op.to_api())
