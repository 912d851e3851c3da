"""The flags admin API: admin only, audit fields, settings defaults, validation."""

import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager

from lowcode.app import create_app
from lowcode.flags import Reason, evaluate
from tests.api.toggles.support import flag_key, put_flag
from tests.lifespan import with_state
from tests.support import make_admin

FLAGS = "/api/v1/admin/flags"


async def test_non_admins_cannot_read_or_change_flags_or_routes(client, member, workspace):
    key = flag_key()
    for method, path, body in [
        ("GET", FLAGS, None),
        ("GET", f"{FLAGS}/{key}", None),
        ("PUT", f"{FLAGS}/{key}", {"enabled": True}),
        ("DELETE", f"{FLAGS}/{key}", None),
        ("GET", "/api/v1/admin/routes", None),
        ("GET", f"/api/v1/admin/routes/{workspace}", None),
        ("PUT", f"/api/v1/admin/routes/{workspace}", {"legacy_tags": ["pages"]}),
    ]:
        response = await client.request(method, path, headers=member.headers, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "FORBIDDEN"
        assert (await client.request(method, path, json=body)).status_code == 401


async def test_admin_creates_replaces_reads_and_deletes_a_flag_with_audit_fields(
    app, client, admin
):
    key = flag_key()
    ws = str(uuid.uuid4())
    created = await client.put(
        f"{FLAGS}/{key}",
        headers=admin.headers,
        json={"enabled": True, "description": "New editor", "allow_workspaces": [ws]},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["updated_by"] == admin.id == body["created_by"]
    assert body["allow_workspaces"] == [ws] and body["source"] == "database"
    assert body["rollout_percentage"] == 0 and body["default_variant"] == "off"

    replaced = await client.put(
        f"{FLAGS}/{key}", headers=admin.headers, json={"enabled": False, "rollout_percentage": 30}
    )
    assert replaced.status_code == 200
    assert replaced.json()["allow_workspaces"] == [] and replaced.json()["enabled"] is False
    assert replaced.json()["updated_at"] >= body["updated_at"]
    assert replaced.json()["created_at"] == body["created_at"]

    got = await client.get(f"{FLAGS}/{key}", headers=admin.headers)
    assert got.json() == replaced.json()
    # This node answers with the change at once (the one evaluation function).
    assert evaluate(app.res, key, uuid.UUID(ws)).reason is Reason.DISABLED

    assert (await client.delete(f"{FLAGS}/{key}", headers=admin.headers)).status_code == 204
    gone = await client.get(f"{FLAGS}/{key}", headers=admin.headers)
    assert gone.status_code == 404 and gone.json()["code"] == "FLAG_NOT_FOUND"
    again = await client.delete(f"{FLAGS}/{key}", headers=admin.headers)
    assert again.status_code == 404
    assert evaluate(app.res, key, uuid.UUID(ws), default=True).reason is Reason.ERROR


async def test_flag_list_is_sorted_and_paged(client, admin):
    prefix = f"aaa-{uuid.uuid4().hex[:6]}"
    for i in range(3):
        await put_flag(client, admin, f"{prefix}-{i}")
    page = (await client.get(FLAGS, headers=admin.headers, params={"page_size": 100})).json()
    keys = [f["key"] for f in page["items"]]
    assert keys == sorted(keys) and {f"{prefix}-{i}" for i in range(3)} <= set(keys)
    one = (await client.get(FLAGS, headers=admin.headers, params={"page_size": 1})).json()
    assert len(one["items"]) == 1 and one["total"] == page["total"]


@pytest.mark.parametrize(
    ("key", "body", "field"),
    [
        ("bad key", {"enabled": True}, "key"),
        ("ok", {}, "enabled"),
        ("ok", {"enabled": True, "rollout_percentage": 101}, "rollout_percentage"),
        ("ok", {"enabled": True, "allow_workspaces": ["not-a-uuid"]}, "allow_workspaces.0"),
        ("ok", {"enabled": True, "default_variant": "maybe"}, "default_variant"),
        ("ok", {"enabled": True, "surprise": 1}, ""),
    ],
)
async def test_bad_flag_writes_are_400_problems(client, admin, key, body, field):
    response = await client.put(f"{FLAGS}/{key}", headers=admin.headers, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_FAILED"
    assert any(e["field"].startswith(field) for e in response.json()["errors"])


async def test_settings_defaults_show_until_a_database_flag_replaces_them(settings):
    key = flag_key("from-settings")
    app = create_app(settings.model_copy(update={"flag_defaults": {key: True}}))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=with_state(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            admin = await make_admin(app, c)
            shown = (await c.get(f"{FLAGS}/{key}", headers=admin.headers)).json()
            assert shown["source"] == "settings" and shown["updated_by"] is None
            assert evaluate(app.res, key, uuid.uuid4()).value is True
            await put_flag(c, admin, key, enabled=False)
            assert evaluate(app.res, key, uuid.uuid4()).value is False
            await c.delete(f"{FLAGS}/{key}", headers=admin.headers)
            assert (await c.get(f"{FLAGS}/{key}", headers=admin.headers)).json()["source"] == (
                "settings"
            )
            assert evaluate(app.res, key, uuid.uuid4()).value is True
