from __future__ import annotations

from typing import Any

from lowcode.platform.db import ConstraintErrors
from lowcode.platform.errors import AppError, Conflict, Forbidden, NotFound


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"


class _Unauthenticated(AppError):
    """401s tell the client how to authenticate (RFC 6750)."""

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(
            detail, headers={"WWW-Authenticate": 'Bearer realm="lowcode", error="invalid_token"'}
        )


class InvalidCredentials(AppError):
    code = "INVALID_CREDENTIALS"


class TokenExpired(_Unauthenticated):
    code = "TOKEN_EXPIRED"


class TokenInvalid(_Unauthenticated):
    code = "TOKEN_INVALID"


class SessionRevoked(_Unauthenticated):
    code = "SESSION_REVOKED"


class AccountDisabled(Forbidden):
    code = "ACCOUNT_DISABLED"


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"


# What the constraints of `queries/identity/` mean (see `platform.db`).
CONSTRAINT_ERRORS: ConstraintErrors = {
    # Any letter case: the index is on lower(email).
    "users_email_lower_key": lambda e, p: EmailTaken(
        f"{p.get('email', 'that email')} is already registered"
    ),
}
