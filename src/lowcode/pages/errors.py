from __future__ import annotations

from lowcode.platform.db import ConstraintErrors
from lowcode.platform.errors import (
    AppError,
    Conflict,
    NotFound,
    TooLarge,
    Unprocessable,
    VersionConflict,
)


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


class OpIdConflict(OpIdReused):
    """The page's op log already has this opId (its unique index said so): a
    resend of an op already written, or a reuse. Writers that accept resends
    catch it and look the earlier op up."""


class PreconditionRequired(AppError):
    """A whole-document write that does not say which version it replaces."""

    code = "PRECONDITION_REQUIRED"


class OpConflict(VersionConflict):
    """An op based on an older version that overlaps an op written since then
    (or is too far behind to tell): VERSION_CONFLICT, saying where."""

    def __init__(
        self,
        current_version: int,
        *,
        conflict_version: int | None = None,
        conflict_path: str | None = None,
        detail: str | None = None,
    ) -> None:
        if detail is None:
            detail = (
                f"version {conflict_version} changed {conflict_path or 'the document'!r} too; "
                f"the page is at version {current_version}"
                if conflict_version is not None
                else f"the op is too far behind; the page is at version {current_version}"
            )
        super().__init__(current_version, detail)
        self.extra.update(conflictVersion=conflict_version, conflictPath=conflict_path)


class OpNotApplied(AppError):
    """An op failed for a reason that is not the client's (a bug): INTERNAL_ERROR
    for that op alone, never for the ops batched with it."""

    code = "INTERNAL_ERROR"


# What the constraints of `queries/pages/` mean (see `platform.db`).
CONSTRAINT_ERRORS: ConstraintErrors = {
    "page_ops_op_id_key": lambda e, p: OpIdConflict("that opId was already used on this page"),
}
