from __future__ import annotations

from lowcode.platform.errors import Conflict, NotFound


class JobNotFound(NotFound):
    code = "JOB_NOT_FOUND"


class JobNotRetryable(Conflict):
    code = "JOB_NOT_RETRYABLE"


class JobNotCancelable(Conflict):
    code = "JOB_NOT_CANCELABLE"


class DuplicateJob(Conflict):
    """A job with the same de-duplication key is queued or running. The
    enqueueing statement failed, so the caller's transaction is aborted too."""

    code = "JOB_DUPLICATE"


class InvalidJobPayload(ValueError):
    """A payload that does not fit its entrypoint's model, found on enqueue
    (a programming error: the service should have validated its input)."""
