from __future__ import annotations

from lowcode.platform.errors import AppError, Conflict, NotFound, TooLarge, Unprocessable


class PageNotFound(NotFound):
    code = "PAGE_NOT_FOUND"


class RevisionNotFound(NotFound):
    code = "REVISION_NOT_FOUND"


class PatchFailed(Unprocessable):
    code = "PATCH_FAILED"


class InvalidDocument(Unprocessable):
    code = "INVALID_DOCUMENT"


class PageTooLarge(TooLarge):
    code = "TOO_LARGE"


class PatchTooCostly(TooLarge):
    """A patch whose application would copy or compare more than its work budget."""

    code = "TOO_LARGE"


class OpIdReused(Conflict):
    """The same opId arrived with a different patch: not a retry."""

    code = "OP_ID_REUSED"


class PreconditionRequired(AppError):
    """A whole-document write that does not say which version it replaces."""

    code = "PRECONDITION_REQUIRED"
