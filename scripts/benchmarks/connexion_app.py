"""The third line of the REST read: bare Connexion, its default middleware stack,
the same query and JSON as the raw baseline, no auth and no logging. The gap
between this and `baseline_app` is what the framework costs; the gap between
this and the service is what our own layers cost."""

from __future__ import annotations

from typing import Any

from connexion import AsyncApp

# The same pool, query and JSON as the raw baseline.
from scripts.benchmarks.baseline_app import QUERY, lifespan, page_body, state

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


async def get_page(page_id: str) -> Any:
    async with state["pool"].acquire() as conn:
        row = await conn.fetchrow(QUERY, page_id, state["user"])
    if row is None or row["my_role"] is None:
        return {"detail": "not found"}, 404
    return page_body(row), 200, {"ETag": f'"{row["version"]}"'}


app = AsyncApp(__name__, lifespan=lifespan)
app.add_api(SPEC)
