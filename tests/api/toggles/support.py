"""Helpers of the migration-toggle suites."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support import Account


def flag_key(tag: str = "flag") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


async def put_flag(
    client: httpx.AsyncClient, admin: Account, key: str, **body: Any
) -> dict[str, Any]:
    response = await client.put(
        f"/api/v1/admin/flags/{key}", headers=admin.headers, json={"enabled": True, **body}
    )
    assert response.status_code in (200, 201), response.text
    return dict(response.json())
