"""Fixtures of the identity-and-tenancy acceptance suites (helpers: `support.py`).

Every fixture makes fresh users and workspaces, so tests never share state.
`new_user()` is the fast path for tests that are about something else (see
`support.insert_user`); `new_admin()` also promotes the user with `create_admin`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from lowcode.app import LowcodeApp
from lowcode.identity.passwords import hash_password
from lowcode.identity.tokens import hash_refresh_token
from tests.api.identity.support import FIXTURE_PASSWORD, insert_user, quick_user
from tests.support import Account, create_workspace


@pytest.fixture(scope="session")
async def fixture_password_hash() -> str:
    return await hash_password(FIXTURE_PASSWORD)


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


@pytest.fixture
def age_rotation(database_url: str) -> Callable[[str], Awaitable[None]]:
    """Move a refresh token's rotation an hour into the past: presenting it
    again is then reuse after `REFRESH_REUSE_INTERVAL_S`, which revokes the
    session. (The rows are the service's own; no clock is faked.)"""

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
