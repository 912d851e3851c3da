from __future__ import annotations

from lowcode.platform.errors import Conflict, NotFound, Unprocessable


class DatasetNotFound(NotFound):
    code = "DATASET_NOT_FOUND"


class DatasetNotReadOnly(Unprocessable):
    """The SQL writes (DML, a data-modifying CTE, row locks, a volatile
    function) or is not a single query."""

    code = "DATASET_NOT_READ_ONLY"


class QueryTimeout(Unprocessable):
    code = "QUERY_TIMEOUT"


class QueryFailed(Unprocessable):
    code = "QUERY_FAILED"


class DatasetInUse(Conflict):
    code = "DATASET_IN_USE"
