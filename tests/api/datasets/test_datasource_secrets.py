"""A datasource password is a secret: absent from every response, log line
(access-log bodies included), span and job payload; encrypted at rest; and
rotatable to a new key."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from cryptography.fernet import Fernet
from opentelemetry.trace import NoOpTracer
from pydantic import SecretStr

from lowcode.datasources.models import ConnectionTarget
from lowcode.datasources.rotation import rotate_passwords
from lowcode.datasources.secrets import PasswordBox, SecretUnreadable
from lowcode.platform.metrics import Metrics
from lowcode.platform.scratch import migrated_database
from lowcode.resources import open_resources
from tests.api.sources import create_dataset, create_datasource
from tests.support import MIGRATIONS, assert_problem, make_workspace, running_app, signup


def span_text(spans) -> str:
    parts = []
    for s in spans.get_finished_spans():
        parts.append(s.name)
        parts.extend(f"{k}={v}" for k, v in (s.attributes or {}).items())
        for event in s.events:
            parts.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
    return "\n".join(parts)


async def test_the_password_never_leaves_the_service(client, source, spans, logs, database_url):
    spans.clear()
    owner = await signup(client, "secret")
    ws = await make_workspace(client, owner)
    first, second = f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"
    ds = await create_datasource(client, owner, ws, source, password=first)
    base = f"/api/v1/datasources/{ds['id']}"
    dataset = await create_dataset(client, owner, ws, ds["id"], "SELECT id, name FROM customers")
    responses = [
        await client.patch(base, headers=owner.headers, json={"password": second, "version": 1}),
        await client.post(f"{base}/test", headers=owner.headers),
        await client.get(base, headers=owner.headers),
        await client.get(f"/api/v1/workspaces/{ws}/datasources", headers=owner.headers),
        dataset,
        await client.post(
            "/api/v1/sql/validate",
            headers=owner.headers,
            json={
                "sql": "SELECT name FROM customers",
                "dialect": "postgres",
                "datasource_id": ds["id"],
            },
        ),
        await client.get(f"/api/v1/datasets/{dataset.json()['id']}/preview", headers=owner.headers),
    ]
    assert all(r.status_code < 300 for r in responses), [r.text for r in responses]
    seen = [r.text for r in responses]
    # A failing connection test: the driver's error must not carry it either.
    broken = await create_datasource(client, owner, ws, source, password=first, database="nope")
    failed = await client.post(f"/api/v1/datasources/{broken['id']}/test", headers=owner.headers)
    seen.append(failed.text)

    for secret in (first, second):
        assert not any(secret in text for text in seen)
        assert secret not in logs.text()
        assert secret not in span_text(spans)
    access = [
        line for line in logs.lines("lowcode.access") if line["path"].endswith("/datasources")
    ]
    assert access and all('"password": "[REDACTED]"' in str(line["request_body"]) for line in access
                          if line["method"] == "POST")  # fmt: skip
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            "SELECT password_ciphertext FROM datasources WHERE id = $1", uuid.UUID(ds["id"])
        )
        payloads = await conn.fetch("SELECT payload FROM pgqueuer WHERE payload IS NOT NULL")
    finally:
        await conn.close()
    assert stored and second not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert not any(second.encode() in bytes(p["payload"]) for p in payloads)
    assert second not in repr(
        ConnectionTarget(uuid.uuid4(), 1, "h", 5432, "d", "u", "prefer", second)
    )


async def test_a_password_can_be_removed(client, source):
    owner = await signup(client, "secret")
    ws = await make_workspace(client, owner)
    ds = await create_datasource(client, owner, ws, source)
    cleared = await client.patch(
        f"/api/v1/datasources/{ds['id']}", headers=owner.headers, json={"password": None}
    )
    assert cleared.status_code == 200 and cleared.json()["has_password"] is False


def test_a_password_box_decrypts_with_any_key_and_encrypts_with_the_first():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = PasswordBox(SecretStr(old)).encrypt("hunter2")
    both = PasswordBox(SecretStr(f"{new},{old}"))
    assert both.decrypt(token) == "hunter2"
    rotated = both.rotate(token)
    assert PasswordBox(SecretStr(new)).decrypt(rotated) == "hunter2"
    with pytest.raises(SecretUnreadable):
        PasswordBox(SecretStr(old)).decrypt(rotated)
    with pytest.raises(ValueError, match="Fernet key"):
        PasswordBox(SecretStr("not-a-key"))


async def test_key_rotation_re_encrypts_every_password_under_the_new_key(
    settings, pg_admin_dsn, source
):
    """The documented procedure: new key first, rotate, drop the old key."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with migrated_database(pg_admin_dsn, MIGRATIONS, "lowcode_rotation") as dsn:
        base = settings.model_copy(update={"database_url": dsn})
        async with running_app(base, datasource_keys=SecretStr(old)) as (_, client):
            owner = await signup(client, "rotate")
            ws = await make_workspace(client, owner)
            ids = [(await create_datasource(client, owner, ws, source))["id"] for _ in range(3)]
        both = base.model_copy(update={"datasource_keys": SecretStr(f"{new},{old}")})
        async with open_resources(both, Metrics(), NoOpTracer()) as res:
            assert await rotate_passwords(res) == (3, 0)
            assert await rotate_passwords(res) == (3, 0)  # idempotent: already under `new`
        async with running_app(base, datasource_keys=SecretStr(new)) as (_, client):
            for ds_id in ids:
                # the old key is gone and every password still decrypts
                got = await client.post(f"/api/v1/datasources/{ds_id}/test", headers=owner.headers)
                assert got.status_code == 200 and got.json()["ok"] is True, got.text
        async with running_app(base, datasource_keys=SecretStr(old)) as (_, client):
            refused = await client.post(f"/api/v1/datasources/{ids[0]}/test", headers=owner.headers)
            assert_problem(refused, 500, "DATASOURCE_SECRET_UNREADABLE")
