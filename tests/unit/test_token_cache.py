"""Verified access tokens are remembered per process; a remembered token still
expires on time, and a tampered one is never taken for a remembered one."""

from __future__ import annotations

import uuid

import pytest

from lowcode.identity import tokens as tokens_module
from lowcode.identity.errors import TokenExpired, TokenInvalid
from lowcode.identity.tokens import TokenService
from lowcode.settings import Settings


def _service() -> TokenService:
    return TokenService(
        Settings(JWT_SECRET="s" * 40, ACCESS_TOKEN_TTL_S=60, JWT_LEEWAY_S=5)  # type: ignore[call-arg]
    )


def test_a_remembered_token_expires_like_any_other(monkeypatch: pytest.MonkeyPatch) -> None:
    service = _service()
    token = service.issue_access(user_id=uuid.uuid4(), session_id=uuid.uuid4(), role="user")
    first = service.decode_access(token)
    assert service.decode_access(token) is first  # remembered
    now = tokens_module.time.time()
    monkeypatch.setattr(tokens_module.time, "time", lambda: now + 60 + 5 + 1)
    with pytest.raises(TokenExpired):
        service.decode_access(token)


def test_a_tampered_token_is_checked_in_full() -> None:
    service = _service()
    token = service.issue_access(user_id=uuid.uuid4(), session_id=uuid.uuid4(), role="user")
    service.decode_access(token)
    head, payload, signature = token.split(".")
    forged = (
        f"{head}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    )
    with pytest.raises(TokenInvalid):
        service.decode_access(forged)
