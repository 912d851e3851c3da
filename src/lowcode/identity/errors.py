from __future__ import annotations

from lowcode.platform.errors import Conflict


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"
