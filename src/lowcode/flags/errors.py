"""Errors of the flags context. The OFREP ones carry OFREP's own failure
fields (`errorCode`, `errorDetails`, `key`) beside the problem fields, so an
OpenFeature OFREP provider reads them as the protocol says."""

from __future__ import annotations

from lowcode.platform.errors import Invalid, NotFound


class FlagNotFound(NotFound):
    code = "FLAG_NOT_FOUND"

    def __init__(self, key: str) -> None:
        detail = f"no flag {key!r}"
        super().__init__(detail, key=key, errorCode=self.code, errorDetails=detail)


class TargetingKeyMissing(Invalid):
    code = "TARGETING_KEY_MISSING"

    def __init__(self, key: str | None = None) -> None:
        detail = "context.targetingKey must name a workspace you are a member of"
        super().__init__(detail, key=key, errorCode=self.code, errorDetails=detail)


class InvalidContext(Invalid):
    code = "INVALID_CONTEXT"

    def __init__(self, detail: str, key: str | None = None) -> None:
        super().__init__(detail, key=key, errorCode=self.code, errorDetails=detail)
