"""Fixtures of the migration-toggle suites: an admin, members and workspaces,
all made through the API (the admin through the CLI's own service function)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from lowcode.identity.users import create_admin
from tests.support import PASSWORD, Account, login, make_workspace, signup, unique_email


@pytest.fixture(scope="module")
async def admin(app, client) -> Account:
    email = unique_email("admin")
    user, _ = await create_admin(
        app.res, email=email, password=PASSWORD, display_name="Admin", promote=True
    )
    return await login(client, email, str(user.id))


@pytest.fixture(scope="module")
async def member(client) -> Account:
    return await signup(client, "member")


@pytest.fixture(scope="module")
async def workspace(client, member) -> str:
    return await make_workspace(client, member, "Toggled")


def flag_key(tag: str = "flag") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


async def put_flag(client: httpx.AsyncClient, admin: Account, key: str, **body) -> dict:
    response = await client.put(
        f"/api/v1/admin/flags/{key}", headers=admin.headers, json={"enabled": True, **body}
    )
    assert response.status_code in (200, 201), response.text
    return dict(response.json())
