"""The third line of the REST read: bare Connexion, its default middleware stack,
the same query and JSON as the raw baseline, no auth and no logging. The gap
between this and `baseline_app` is what the framework costs; the gap between
this and the service is what our own layers cost."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any

from connexion import AsyncApp

from lowcode.platform.db import create_pool
from scripts.benchmarks.baseline_app import QUERY

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "bare connexion", "version": "1"},
    "paths": {
        "/pages/{page_id}": {
            "get": {
                "operationId": "scripts.benchmarks.connexion_app.get_page",
                "parameters": [
                    {
                        "name": "page_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "uuid"},
                    }
                ],
                "responses": {"200": {"description": "the page"}},
            }
        }
    },
}

state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(_app: Any):  # type: ignore[no-untyped-def]
    state["pool"] = await create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=20)
    state["user"] = os.environ["BENCH_USER_ID"]
    yield
    await state["pool"].close()


async def get_page(page_id: str) -> Any:
    async with state["pool"].acquire() as conn:
        row = await conn.fetchrow(QUERY, page_id, state["user"])
    if row is None or row["my_role"] is None:
        return {"detail": "not found"}, 404
    body = {
        "id": str(row["id"]),
        "workspace_id": str(row["workspace_id"]),
        "title": row["title"],
        "version": row["version"],
        "created_by": str(row["created_by"]),
        "created_at": row["created_at"].isoformat(),
        "updated_by": str(row["updated_by"]),
        "updated_at": row["updated_at"].isoformat(),
        "schema": row["schema"],
    }
    return body, 200, {"ETag": f'"{row["version"]}"'}


app = AsyncApp(__name__, lifespan=lifespan)
app.add_api(SPEC)
