"""Fixtures of the migration-toggle suites: an admin, a member and a workspace,
all made through the API (the admin through the CLI's own service function)."""

from __future__ import annotations

import pytest

from tests.support import Account, make_admin, make_workspace, signup


@pytest.fixture(scope="module")
async def admin(app, client) -> Account:
    return await make_admin(app, client)


@pytest.fixture(scope="module")
async def member(client) -> Account:
    return await signup(client, "member")


@pytest.fixture(scope="module")
async def workspace(client, member) -> str:
    return await make_workspace(client, member, "Toggled")
