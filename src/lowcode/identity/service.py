"""Identity use cases. Each owns its transaction and returns domain objects."""

from __future__ import annotations

import asyncpg

from lowcode.identity.errors import EmailTaken
from lowcode.identity.models import User
from lowcode.identity.passwords import hash_password
from lowcode.platform.db import transaction
from lowcode.resources import Resources


async def register_user(res: Resources, *, email: str, password: str, display_name: str) -> User:
    """Create a `user`-role account; the email must be new in any letter case."""
    password_hash = await hash_password(password)
    async with transaction(res.pool) as conn:
        try:
            row = await res.queries.identity.insert_user(
                conn,
                email=email.strip(),
                password_hash=password_hash,
                display_name=display_name.strip(),
                role="user",
            )
        except asyncpg.UniqueViolationError as e:
            raise EmailTaken(f"{email.strip()} is already registered") from e
    assert row is not None
    return User.from_row(row)
