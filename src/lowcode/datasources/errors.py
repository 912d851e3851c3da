from __future__ import annotations

from lowcode.platform.errors import Conflict, NotFound, Unprocessable


class DatasourceNotFound(NotFound):
    """Also what non-members get, so a datasource's existence does not leak."""

    code = "DATASOURCE_NOT_FOUND"


class HostRefused(Unprocessable):
    code = "DATASOURCE_HOST_REFUSED"


class DatasourceUnreachable(Unprocessable):
    """Connecting failed (refused, timed out, bad credentials, DNS): the
    datasource's configuration or the server it names, not this service."""

    code = "DATASOURCE_UNREACHABLE"


class DatasourceInUse(Conflict):
    code = "DATASOURCE_IN_USE"
