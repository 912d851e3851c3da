"""Helpers and fixtures of the identity-and-tenancy acceptance suites.

Every helper creates fresh users and workspaces, so tests never share state.

`signup()` registers and logs in through the API. The `new_user()` fixture is the
fast path for tests that are about something else: argon2 hashing is deliberately
slow (~0.1 s), so it inserts the user with the service's own `insert_user` query
and a password hash computed once per session, then logs in through the API.
`new_admin()` does the same and promotes the user with `create_admin`, the
service function behind the CLI.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager

from lowcode.app import LowcodeApp, create_app
from lowcode.identity.passwords import hash_password
from lowcode.identity.users import create_admin
from lowcode.platform.db import transaction
from lowcode.settings import Settings
from tests.conftest import unique_email
from tests.lifespan import with_state

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is a problem+json with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) >= PROBLEM_FIELDS, body
    assert body["status"] == status and body["code"] == code, body
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_password() -> str:
    return f"pw-{uuid.uuid4().hex[:12]}-secret"


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
    return response.json()


async def login_again(client: httpx.AsyncClient, account: Account) -> Account:
    """A second session of the same user."""
    return account.with_tokens(await login(client, account.email, account.password))


async def signup(
    client: httpx.AsyncClient,
    *,
    tag: str = "user",
    display_name: str | None = None,
    email: str | None = None,
) -> Account:
    """Register a fresh user and log in."""
    user, password = await register(
        client,
        email=email or unique_email(tag),
        display_name=display_name or f"{tag} {uuid.uuid4().hex[:6]}",
    )
    pair = await login(client, user["email"], password)
    return Account(
        id=user["id"],
        email=user["email"],
        password=password,
        display_name=user["display_name"],
        access_token=pair["access_token"],
        refresh_token=pair["refresh_token"],
        session_id=pair["session_id"],
    )


FIXTURE_PASSWORD = "fixture-password-1"


@pytest.fixture(scope="session")
async def fixture_password_hash() -> str:
    return await hash_password(FIXTURE_PASSWORD)


async def insert_user(
    app: LowcodeApp,
    password_hash: str,
    *,
    email: str | None = None,
    display_name: str = "Someone",
) -> str:
    """A fresh user (password FIXTURE_PASSWORD) inserted with the service's own
    query, skipping argon2; returns its id."""
    res = app.res
    assert res is not None
    async with transaction(res.pool) as conn:
        row = await res.queries.identity.insert_user(
            conn,
            email=email or unique_email(),
            password_hash=password_hash,
            display_name=display_name,
            role="user",
        )
    assert row is not None
    return str(row.id)


async def quick_user(
    app: LowcodeApp,
    client: httpx.AsyncClient,
    password_hash: str,
    *,
    tag: str = "user",
    display_name: str | None = None,
    admin: bool = False,
) -> Account:
    """`insert_user`, promoted with `create_admin` when `admin`, logged in through the API."""
    email = unique_email(tag)
    name = display_name or f"{tag} {uuid.uuid4().hex[:6]}"
    user_id = await insert_user(app, password_hash, email=email, display_name=name)
    if admin:
        assert app.res is not None
        promoted, outcome = await create_admin(
            app.res, email=email, password=FIXTURE_PASSWORD, display_name=name, promote=True
        )
        assert outcome == "promoted" and promoted.role == "admin"
    pair = await login(client, email, FIXTURE_PASSWORD)
    return Account(
        user_id,
        email,
        FIXTURE_PASSWORD,
        name,
        pair["access_token"],
        pair["refresh_token"],
        pair["session_id"],
    )


async def create_workspace(
    client: httpx.AsyncClient, owner: Account, name: str | None = None, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/workspaces",
        json={"name": name or f"ws-{uuid.uuid4().hex[:8]}", **fields},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def add_member(
    client: httpx.AsyncClient, owner: Account, workspace_id: str, member: Account, role: str
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/workspaces/{workspace_id}/members",
        json={"user_id": member.id, "role": role},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_claims(settings: Settings, account: Account, **overrides: Any) -> dict[str, Any]:
    """Claims exactly like the service issues for `account`'s session, with overrides
    (a value of None removes the claim)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": account.id,
        "sid": account.session_id,
        "role": "user",
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def forge_hs256(settings: Settings, account: Account, **overrides: Any) -> str:
    """An access token signed with the configured HS256 secret."""
    secret = settings.jwt_secret.get_secret_value()
    return jwt.encode(access_claims(settings, account, **overrides), secret, algorithm="HS256")


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


@asynccontextmanager
async def http_client(app: LowcodeApp, client_ip: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=with_state(app), client=(client_ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def new_user(
    app: LowcodeApp, client: httpx.AsyncClient, fixture_password_hash: str
) -> Callable[..., Awaitable[Account]]:
    """`await new_user()`: a fresh, logged-in user of the session app."""

    async def make(**kwargs: Any) -> Account:
        return await quick_user(app, client, fixture_password_hash, **kwargs)

    return make


@pytest.fixture
def new_user_id(app: LowcodeApp, fixture_password_hash: str) -> Callable[..., Awaitable[str]]:
    """`await new_user_id(email=..., display_name=...)`: a fresh user without a session."""

    async def make(**kwargs: Any) -> str:
        return await insert_user(app, fixture_password_hash, **kwargs)

    return make


@pytest.fixture
def new_admin(
    app: LowcodeApp, client: httpx.AsyncClient, fixture_password_hash: str
) -> Callable[[], Awaitable[Account]]:
    """`await new_admin()`: a fresh, logged-in admin of the session app."""

    async def make() -> Account:
        return await quick_user(app, client, fixture_password_hash, tag="admin", admin=True)

    return make


@pytest.fixture
def new_workspace(client: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await new_workspace(owner)`: a fresh workspace owned by `owner`."""

    async def make(owner: Account, **fields: Any) -> dict[str, Any]:
        return await create_workspace(client, owner, **fields)

    return make


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT, without checking anything."""
    header, payload, _ = token.split(".")

    def part(segment: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))

    return part(header), part(payload)


@pytest.fixture
def age_rotation(database_url: str) -> Callable[[str], Awaitable[None]]:
    """Move a refresh token's rotation an hour into the past: presenting it
    again is then reuse after `REFRESH_REUSE_INTERVAL_S`, which revokes the
    session. (The rows are the service's own; no clock is faked.)"""
    import asyncpg

    from lowcode.identity.tokens import hash_refresh_token

    async def age(refresh_token: str) -> None:
        connection = await asyncpg.connect(database_url)
        try:
            status = await connection.execute(
                "UPDATE refresh_tokens SET used_at = used_at - interval '1 hour'"
                " WHERE token_hash = $1 AND used_at IS NOT NULL",
                hash_refresh_token(refresh_token),
            )
        finally:
            await connection.close()
        assert status == "UPDATE 1", status

    return age
