"""Helpers the API tests share: accounts, workspaces, pages — all made through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.lifespan import with_state

PASSWORD = "correct horse battery"


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Account:
    email: str
    user_id: str
    access_token: str
    refresh_token: str
    session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def signup(client: httpx.AsyncClient, tag: str = "user") -> Account:
    email = unique_email(tag)
    created = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": tag.title()},
    )
    assert created.status_code == 201, created.text
    return await login(client, email, created.json()["id"])


async def login(client: httpx.AsyncClient, email: str, user_id: str) -> Account:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(email, user_id, body["access_token"], body["refresh_token"], body["session_id"])


async def make_workspace(client: httpx.AsyncClient, owner: Account, name: str = "W") -> str:
    response = await client.post("/api/v1/workspaces", headers=owner.headers, json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def add_member(
    client: httpx.AsyncClient, owner: Account, workspace_id: str, member: Account, role: str
) -> None:
    response = await client.post(
        f"/api/v1/workspaces/{workspace_id}/members",
        headers=owner.headers,
        json={"user_id": member.user_id, "role": role},
    )
    assert response.status_code == 201, response.text


async def make_page(
    client: httpx.AsyncClient, editor: Account, workspace_id: str, title: str = "Page"
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/workspaces/{workspace_id}/pages", headers=editor.headers, json={"title": title}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def readiness(settings: Any) -> httpx.Response:
    """GET /health/ready from a fresh app built with `settings` (started and stopped)."""
    from asgi_lifespan import LifespanManager

    from lowcode.app import create_app

    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=with_state(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/health/ready")
