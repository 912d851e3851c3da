"""HTTP handlers of the jobs admin API (operationIds `lowcode.jobs.handlers.*`);
the spec restricts every one to the admin role."""

from __future__ import annotations

from typing import Any

from connexion import request

from lowcode.caller import caller
from lowcode.jobs import service
from lowcode.platform.pagination import PageRequest
from lowcode.platform.responses import JsonReply, json_reply
from lowcode.resources import from_request


async def list_jobs(
    status: str | None = None,
    entrypoint: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> JsonReply:
    result = await service.list_jobs(
        from_request(request),
        status=status,
        entrypoint=entrypoint,
        page=PageRequest(page, page_size),
    )
    return json_reply(result.to_api())


async def get_job(job_id: int) -> JsonReply:
    job = await service.get_job(from_request(request), job_id)
    return json_reply(job.to_api())


async def retry_job(token_info: dict[str, Any], job_id: int) -> JsonReply:
    job = await service.retry_job(*caller(token_info), job_id)
    return json_reply(job.to_api())


async def cancel_job(token_info: dict[str, Any], job_id: int) -> JsonReply:
    job = await service.cancel_job(*caller(token_info), job_id)
    return json_reply(job.to_api())


async def job_stats(window_s: int = 3600) -> JsonReply:
    since, stats = await service.job_stats(from_request(request), window_s)
    return json_reply(
        {
            "window_s": window_s,
            "since": since.isoformat(),
            "entrypoints": [s.to_api() for s in stats],
        }
    )
