"""The OpenFeature Remote Evaluation Protocol (OFREP) over our flags.

Request `{"context": {"targetingKey": "<workspace id>", ...}}`; answers
`{key, value, reason, variant}` per flag (open-feature/protocol
`service/openapi.yaml`, v0.3). The targeting key must be a workspace the
caller is a member of; other context attributes are accepted and unused.

`reason` is the OpenFeature resolution reason. DEFAULT is among them but not
in the OFREP schema's enum (which lists STATIC, TARGETING_MATCH, SPLIT,
DISABLED, UNKNOWN); OFREP's own providers map any OpenFeature reason, and
flagd's OFREP service sends DEFAULT too, so we keep the precise reason.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from lowcode.flags.errors import FlagNotFound, InvalidContext, TargetingKeyMissing
from lowcode.flags.evaluation import Evaluation, evaluate_flag
from lowcode.flags.service import store_of
from lowcode.identity.models import Actor
from lowcode.platform.errors import Forbidden
from lowcode.resources import Resources


async def evaluate_one(res: Resources, actor: Actor, key: str, body: Any) -> dict[str, Any]:
    workspace_id = await _workspace(res, actor, body, key)
    flag = store_of(res).get(key)
    if flag is None:
        raise FlagNotFound(key)
    return _result(evaluate_flag(flag, workspace_id))


async def evaluate_all(res: Resources, actor: Actor, body: Any) -> tuple[dict[str, Any], str]:
    """Every flag for the workspace, and the ETag of exactly this answer."""
    workspace_id = await _workspace(res, actor, body, None)
    answer = {"flags": [_result(evaluate_flag(f, workspace_id)) for f in store_of(res).all()]}
    canonical = json.dumps(answer, sort_keys=True, separators=(",", ":")).encode()
    return answer, f'"{hashlib.sha256(canonical).hexdigest()[:32]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: a list of (possibly weak) tags, or `*`."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


async def _workspace(res: Resources, actor: Actor, body: Any, key: str | None) -> uuid.UUID:
    context = body.get("context") if isinstance(body, dict) else None
    raw = context.get("targetingKey") if isinstance(context, dict) else None
    if raw is None or raw == "":
        raise TargetingKeyMissing(key)
    if not isinstance(raw, str):
        raise InvalidContext("context.targetingKey must be a string (a workspace id)", key)
    try:
        workspace_id = uuid.UUID(raw)
    except ValueError:
        raise InvalidContext("context.targetingKey must be a workspace id (a UUID)", key) from None
    async with res.pool.acquire() as conn:
        member = await res.queries.workspaces.get_membership(
            conn, workspace_id=workspace_id, user_id=actor.user_id
        )
    if member is None:
        # 403 whether the workspace exists or not, so its existence does not leak.
        raise Forbidden("the targeting key is not a workspace you are a member of")
    return workspace_id


def _result(e: Evaluation) -> dict[str, Any]:
    return {"key": e.key, "value": e.value, "reason": str(e.reason), "variant": e.variant}
