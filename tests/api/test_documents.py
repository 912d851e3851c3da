"""The contracts as served: `/openapi.json`, `/openapi.yaml`, `/asyncapi.yaml`, `/docs`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
import yaml

from lowcode.platform.documents import public
from lowcode.settings import PROJECT_ROOT
from tests.lifespan import with_state

OPENAPI = PROJECT_ROOT / "api/openapi/openapi.yaml"
ASYNCAPI = PROJECT_ROOT / "api/asyncapi/collab.yaml"
GENERATOR = PROJECT_ROOT / "node_modules/.bin/openapi-typescript"


def without_servers(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "servers"}


async def test_openapi_json_is_the_spec_as_written_with_a_real_servers_entry(client):
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    served = r.json()
    written = public(yaml.safe_load(OPENAPI.read_text()))
    # Named components and `$ref`s intact: nothing inlined, nothing added.
    assert without_servers(served) == without_servers(written)
    assert r.text.count('"$ref"') == OPENAPI.read_text().count("$ref:") > 200
    assert "x-bearerInfoFunc" not in r.text
    assert served["servers"] == [{"url": "/", "description": "this server"}]
    yaml_r = await client.get("/openapi.yaml")
    assert yaml_r.status_code == 200
    assert yaml.safe_load(yaml_r.text) == served


async def test_behind_a_path_prefix_the_servers_entry_names_it(app):
    transport = httpx.ASGITransport(app=with_state(app), root_path="/backend")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        served = (await c.get("/openapi.json")).json()
    assert served["servers"] == [{"url": "/backend/", "description": "this server"}]


async def test_the_asyncapi_document_is_served(client):
    r = await client.get("/asyncapi.yaml")
    assert r.status_code == 200
    assert r.text == ASYNCAPI.read_text()
    as_json = await client.get("/asyncapi.json")
    assert as_json.json() == yaml.safe_load(ASYNCAPI.read_text())
    head = await client.head("/asyncapi.yaml")
    assert head.status_code == 200 and head.content == b""


async def test_swagger_ui_reads_the_served_spec_and_keeps_the_token(client):
    page = await client.get("/docs/")
    assert page.status_code == 200
    assert 'url: "/openapi.json"' in page.text
    config = await client.get("/docs/swagger-ui-config.json")
    assert config.json().get("persistAuthorization") is True


async def test_types_generated_from_the_served_spec_equal_the_checked_in_ones(
    live: str,
    tmp_path: Path,
):
    url = live.replace("ws://", "http://") + "/openapi.json"
    out = tmp_path / "api.d.ts"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # The same flags as `make generate` (src/lowcode/codegen/__main__.py).
    proc = await asyncio.create_subprocess_exec(
        str(GENERATOR), url, "--default-non-nullable", "false", "--output", str(out),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await proc.communicate()
    assert proc.returncode == 0, (stdout + stderr).decode()
    from_url = out.read_text()
    checked_in = (PROJECT_ROOT / "generated/ts/api.d.ts").read_text()
    assert from_url.count("\n") == checked_in.count("\n")
    assert from_url == checked_in
    assert 'components["schemas"]["Problem"]' in from_url


def test_the_served_json_is_plain_json():
    """No YAML-only values (dates, anchors) leak into the JSON encoding."""
    from lowcode.platform.documents import Documents

    docs = Documents(yaml.safe_load(OPENAPI.read_text()), ASYNCAPI)
    assert json.loads(json.dumps(docs.openapi(""))) == docs.openapi("")
