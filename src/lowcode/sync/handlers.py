"""HTTP handlers of the sync context."""

from __future__ import annotations

import uuid
from typing import Any

from lowcode.caller import caller
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, NoContent, json_reply, no_content
from lowcode.platform.responses import created as created_reply
from lowcode.sync import service
from lowcode.sync.service import UNCHANGED, JobFields, sink_from_api, source_from_api


def _fields(body: dict[str, Any]) -> JobFields:
    return JobFields(
        name=body.get("name"),
        description=body.get("description"),
        source=source_from_api(body["source"]) if "source" in body else None,
        sink=sink_from_api(body["sink"]) if "sink" in body else None,
        mode=body.get("mode"),
        key_columns=tuple(body["key_columns"]) if "key_columns" in body else None,
        schedule=body.get("schedule", UNCHANGED),
    )


async def list_sync_jobs(
    token_info: dict[str, Any], workspace_id: str, page: int = 1, page_size: int = 20
) -> JsonReply:
    result = await service.list_sync_jobs(
        *caller(token_info), uuid.UUID(workspace_id), PageRequest(page, page_size)
    )
    return json_reply(result.to_api())


async def create_sync_job(
    token_info: dict[str, Any], workspace_id: str, body: dict[str, Any]
) -> JsonReply:
    created = await service.create_sync_job(
        *caller(token_info), uuid.UUID(workspace_id), _fields(body)
    )
    body = created.to_api()
    return created_reply(body, f"/api/v1/sync-jobs/{body['id']}")


async def get_sync_job(token_info: dict[str, Any], job_id: str) -> JsonReply:
    found = await service.get_sync_job(*caller(token_info), uuid.UUID(job_id))
    return json_reply(found.to_api())


async def update_sync_job(
    token_info: dict[str, Any], job_id: str, body: dict[str, Any]
) -> JsonReply:
    updated = await service.update_sync_job(
        *caller(token_info), uuid.UUID(job_id), _fields(body), body.get("version")
    )
    return json_reply(updated.to_api())


async def delete_sync_job(token_info: dict[str, Any], job_id: str) -> NoContent:
    await service.delete_sync_job(*caller(token_info), uuid.UUID(job_id))
    return no_content()


async def start_sync_run(token_info: dict[str, Any], job_id: str) -> JsonReply:
    run = await service.start_run(*caller(token_info), uuid.UUID(job_id))
    return json_reply(run.to_api(), 202)


async def list_sync_runs(
    token_info: dict[str, Any], job_id: str, page: int = 1, page_size: int = 20
) -> JsonReply:
    result = await service.list_runs(
        *caller(token_info), uuid.UUID(job_id), PageRequest(page, page_size)
    )
    return json_reply(result.to_api())


async def get_sync_run(token_info: dict[str, Any], run_id: str) -> JsonReply:
    run = await service.get_run(*caller(token_info), uuid.UUID(run_id))
    return json_reply(run.to_api())


async def cancel_sync_run(token_info: dict[str, Any], run_id: str) -> JsonReply:
    run = await service.cancel_run(*caller(token_info), uuid.UUID(run_id))
    return json_reply(run.to_api(), 202)
