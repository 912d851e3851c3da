"""Helpers the suites share: accounts, workspaces, pages and problems, all made and
checked through the API, plus second apps on the same database.

Plain functions, not fixtures, so a test module imports what it uses from here
(pytest advises against importing from conftest modules; a contract test keeps it so).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from lowcode.app import LowcodeApp, create_app
from lowcode.identity.users import create_admin
from lowcode.settings import PROJECT_ROOT, Settings
from tests.lifespan import with_state

MIGRATIONS = PROJECT_ROOT / "migrations"

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is a problem+json with this status (and this code, unless None:
    a hostile request may be refused by more than one layer), naming the request it
    answers; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status and code in (None, body["code"]), body
    assert body["request_id"] == response.headers["x-request-id"], body
    return dict(body)


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def new_password() -> str:
    return f"pw-{uuid.uuid4().hex[:12]}-secret"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Account:
    """A registered user and the tokens of one of their sessions."""

    id: str
    email: str
    password: str
    display_name: str
    access_token: str
    refresh_token: str
    session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)

    def with_tokens(self, pair: dict[str, Any]) -> Account:
        return replace(
            self,
            access_token=pair["access_token"],
            refresh_token=pair["refresh_token"],
            session_id=pair["session_id"],
        )


async def register(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str | None = None,
    display_name: str = "Test User",
) -> tuple[dict[str, Any], str]:
    """Register through the API; returns (the user body, the password)."""
    password = password or new_password()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email or unique_email(), "password": password, "display_name": display_name},
    )
    assert response.status_code == 201, response.text
    return response.json(), password


async def login(
    client: httpx.AsyncClient, email: str, password: str, **headers: str
) -> dict[str, Any]:
    """Log in through the API; returns the TokenPair body."""
    response = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def login_again(client: httpx.AsyncClient, account: Account) -> Account:
    """A second session of the same user."""
    return account.with_tokens(await login(client, account.email, account.password))


async def signup(
    client: httpx.AsyncClient,
    tag: str = "user",
    *,
    display_name: str | None = None,
    email: str | None = None,
) -> Account:
    """Register a fresh user and log in."""
    user, password = await register(
        client,
        email=email or unique_email(tag),
        display_name=display_name or f"{tag} {uuid.uuid4().hex[:6]}",
    )
    return await _logged_in(client, user["id"], user["email"], password, user["display_name"])


async def make_admin(app: LowcodeApp, client: httpx.AsyncClient, tag: str = "admin") -> Account:
    """A fresh admin made by `create_admin`, the service function behind the CLI, and
    logged in through the API."""
    assert app.res is not None
    email, password, name = unique_email(tag), new_password(), "Admin"
    user, outcome = await create_admin(
        app.res, email=email, password=password, display_name=name, promote=True
    )
    assert outcome == "created" and user.role == "admin"
    return await _logged_in(client, str(user.id), email, password, name)


async def _logged_in(
    client: httpx.AsyncClient, user_id: str, email: str, password: str, display_name: str
) -> Account:
    pair = await login(client, email, password)
    return Account(
        id=str(user_id),
        email=email,
        password=password,
        display_name=display_name,
        access_token=pair["access_token"],
        refresh_token=pair["refresh_token"],
        session_id=pair["session_id"],
    )


async def create_workspace(
    client: httpx.AsyncClient, owner: Account, name: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A fresh workspace owned by `owner`; returns its body."""
    response = await client.post(
        "/api/v1/workspaces",
        json={"name": name or f"ws-{uuid.uuid4().hex[:8]}", **fields},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_workspace(client: httpx.AsyncClient, owner: Account, name: str = "W") -> str:
    """A fresh workspace owned by `owner`; returns its id."""
    return str((await create_workspace(client, owner, name))["id"])


async def add_member(
    client: httpx.AsyncClient, owner: Account, workspace_id: str, member: Account, role: str
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/workspaces/{workspace_id}/members",
        json={"user_id": member.id, "role": role},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def make_page(
    client: httpx.AsyncClient, editor: Account, workspace_id: str, title: str = "Page"
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/workspaces/{workspace_id}/pages", headers=editor.headers, json={"title": title}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def prop(page: dict[str, Any], key: str, value: Any, op: str = "add") -> list[dict[str, Any]]:
    """The JSON Patch that sets (or with `op`, e.g. replaces) props/<key> of the page's
    root component."""
    root = page["schema"]["rootId"]
    return [{"op": op, "path": f"/components/{root}/props/{key}", "value": value}]


async def patch_page(
    client: httpx.AsyncClient,
    editor: Account,
    page: dict[str, Any],
    patches: list[dict[str, Any]],
    *,
    base_version: int,
    op_id: str,
) -> httpx.Response:
    """POST /pages/{id}/patch, as `editor`."""
    return await client.post(
        f"/api/v1/pages/{page['id']}/patch",
        headers=editor.headers,
        json={"baseVersion": base_version, "opId": op_id, "patches": patches},
    )


def chain_document(n: int, name_len: int = 1) -> dict[str, Any]:
    """A page document of n components, each the only child of the previous one."""
    comps = {
        f"c{i}": {
            "id": f"c{i}",
            "name": "N" * name_len,
            "props": {},
            "children": [f"c{i + 1}"] if i + 1 < n else [],
        }
        for i in range(n)
    }
    return {"rootId": "c0", "components": comps}


@asynccontextmanager
async def http_client(
    app: LowcodeApp, client_ip: str = "203.0.113.7"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling `app` (its lifespan started) in process, as if
    from `client_ip`; each request gets its own copy of the lifespan state."""
    transport = httpx.ASGITransport(app=with_state(app), client=(client_ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@asynccontextmanager
async def running_app(
    settings: Settings, *, client_ip: str = "203.0.113.7", **update: Any
) -> AsyncIterator[tuple[LowcodeApp, httpx.AsyncClient]]:
    """A second, separately configured app on the same database and Redis, with its
    own Redis key prefix (so its rate-limit counters start from zero)."""
    update.setdefault("redis_key_prefix", f"lctest:{uuid.uuid4().hex[:8]}:")
    application = create_app(settings.model_copy(update=update))
    async with (
        LifespanManager(application, startup_timeout=30, shutdown_timeout=30),
        http_client(application, client_ip) as client,
    ):
        yield application, client


async def readiness(settings: Settings) -> httpx.Response:
    """GET /health/ready from a fresh app built with `settings` (started and stopped)."""
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=with_state(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/health/ready")
