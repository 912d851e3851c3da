"""The baseline for the REST read: raw Starlette + asyncpg, same query, same JSON,
no auth, no validation, no logging, no tracing. What the framework costs is the
difference between this and the real service."""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lowcode.platform.db import create_pool
from lowcode.settings import PROJECT_ROOT

# The very statement the service runs for GET /api/v1/pages/{id}.
_SQL = (PROJECT_ROOT / "queries/pages/pages.sql").read_text()
QUERY = _SQL.split("-- name: get_page_for_member(page_id, user_id)^", 1)[1].split("-- name:", 1)[0]
QUERY = "\n".join(ln for ln in QUERY.splitlines() if not ln.startswith("--"))
QUERY = QUERY.replace(":page_id", "$1").replace(":user_id", "$2").strip().rstrip(";")

state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(_app: Any):  # type: ignore[no-untyped-def]
    state["pool"] = await create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=20)
    state["user"] = os.environ["BENCH_USER_ID"]
    yield
    await state["pool"].close()


def page_body(row: Any) -> dict[str, Any]:
    """The Page JSON of a `get_page_for_member` row, as the service writes it."""
    return {
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


async def get_page(request: Request) -> JSONResponse:
    async with state["pool"].acquire() as conn:
        row = await conn.fetchrow(QUERY, request.path_params["page_id"], state["user"])
    if row is None or row["my_role"] is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return JSONResponse(page_body(row), headers={"ETag": f'"{row["version"]}"'})


app = Starlette(routes=[Route("/pages/{page_id}", get_page)], lifespan=lifespan)
_ = json  # the JSON codec is set on the pool (create_pool), as in the service
