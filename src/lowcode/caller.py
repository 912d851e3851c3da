"""What an authenticated handler starts with: this process's resources and who
is calling, in the order every service function takes them
(`service.get_page(res, actor, …)`)."""

from __future__ import annotations

from typing import Any

from connexion import request

from lowcode.identity.models import Actor
from lowcode.resources import Resources, from_request


def caller(token_info: dict[str, Any]) -> tuple[Resources, Actor]:
    return from_request(request), Actor.from_token_info(token_info)
