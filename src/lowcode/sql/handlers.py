"""HTTP handlers of the sql context."""

from __future__ import annotations

import uuid
from typing import Any

from connexion import request

from lowcode.caller import caller
from lowcode.platform.responses import JsonReply, json_reply
from lowcode.resources import from_request
from lowcode.sql import service
from lowcode.sql.models import Catalog


async def parse_sql(body: dict[str, Any]) -> JsonReply:
    result = await service.parse_sql(from_request(request), body["sql"], body["dialect"])
    return json_reply(result.to_api(validated=False))


async def validate_sql(token_info: dict[str, Any], body: dict[str, Any]) -> JsonReply:
    result = await service.validate_sql(
        *caller(token_info),
        body["sql"],
        body["dialect"],
        datasource_id=uuid.UUID(body["datasource_id"]) if body.get("datasource_id") else None,
        catalog=Catalog.from_api(body["catalog"]) if body.get("catalog") else None,
    )
    return json_reply(result.to_api(validated=True))


async def transpile_sql(body: dict[str, Any]) -> JsonReply:
    result = await service.transpile_sql(
        from_request(request),
        body["sql"],
        body["from"],
        body["to"],
        pretty=body.get("pretty", False),
    )
    return json_reply(result.to_api())
