"""Helpers of the identity-and-tenancy suites: the fast path to a user, and tokens
forged or taken apart.

Argon2 hashing is deliberately slow (~0.1 s), so `insert_user` puts a user in with
the service's own `insert_user` query and a password hash computed once per session
(the `fixture_password_hash` fixture); `quick_user` then logs in through the API and,
for an admin, promotes with `create_admin`, the service function behind the CLI.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt

from lowcode.app import LowcodeApp
from lowcode.identity.users import create_admin
from lowcode.platform.db import transaction
from lowcode.settings import Settings
from tests.support import Account, login, unique_email

FIXTURE_PASSWORD = "fixture-password-1"


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


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT, without checking anything."""
    header, payload, _ = token.split(".")

    def part(segment: str) -> dict[str, Any]:
        return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))

    return part(header), part(payload)
