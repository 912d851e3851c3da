"""Ids are UUIDs (`format: uuid` in the spec): anything else is a 400
VALIDATION_FAILED naming the field — never a 500."""

from __future__ import annotations

import pytest

from tests.support import assert_problem

# (method, path, body, the field the error names); {ws} is a real workspace of the caller.
CASES = [
    ("GET", "/api/v1/users/not-a-uuid", None, "user_id"),
    ("DELETE", "/api/v1/auth/sessions/not-a-uuid", None, "session_id"),
    ("GET", "/api/v1/workspaces/not-a-uuid", None, "workspace_id"),
    ("DELETE", "/api/v1/workspaces/{ws}/members/not-a-uuid", None, "user_id"),
    ("POST", "/api/v1/workspaces/{ws}/members", {"user_id": "nope", "role": "viewer"}, "user_id"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    CASES,
    ids=["user-path", "session-path", "workspace-path", "member-path", "member-body"],
)
async def test_an_id_that_is_not_a_uuid_is_a_validation_error(
    client, new_admin, new_workspace, method, path, body, field
):
    admin = await new_admin()
    workspace = await new_workspace(admin)
    response = await client.request(
        method, path.format(ws=workspace["id"]), json=body, headers=admin.headers
    )
    problem = assert_problem(response, 400, "VALIDATION_FAILED")
    assert [e["field"] for e in problem.get("errors", [])] == [field]
