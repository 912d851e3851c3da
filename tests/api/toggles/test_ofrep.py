"""OFREP endpoints: shapes checked against the protocol's published schema,
ETag on the bulk endpoint, membership of the targeting workspace, errors an
OFREP provider understands."""

import copy
import uuid
from pathlib import Path

import jsonschema
import pytest
import yaml

from lowcode.flags.evaluation import bucket
from tests.api.toggles.support import flag_key, put_flag
from tests.support import signup

OFREP = "/ofrep/v1/evaluate/flags"

# open-feature/protocol service/openapi.yaml (v0.3.0, Apache-2.0), as published.
PUBLISHED = yaml.safe_load((Path(__file__).parents[1] / "data" / "ofrep-openapi.yaml").read_text())


def _ofrep_schemas() -> dict:
    """The published components with two amendments, each fixing a rule no
    valued answer could meet as written:
    - `codeDefaultFlag` ("this schema has no value property") matches any
      object, so with `booleanFlag` every valued answer matches two branches
      of `evaluationSuccess`'s oneOf; it is given `not: required [value]`;
    - `reason` lists STATIC, TARGETING_MATCH, SPLIT, DISABLED, UNKNOWN but
      not OpenFeature's DEFAULT, which our default-variant answers carry
      (as flagd's do) and OFREP providers map."""
    components = copy.deepcopy(PUBLISHED["components"])
    schemas = components["schemas"]
    schemas["codeDefaultFlag"]["not"] = {"required": ["value"]}
    reason = schemas["evaluationSuccess"]["allOf"][0]["properties"]["reason"]
    reason["enum"] = [*reason["enum"], "DEFAULT"]
    return components


COMPONENTS = _ofrep_schemas()


def assert_ofrep(name: str, instance) -> None:
    schema = {"components": COMPONENTS, "$ref": f"#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(schema).validate(instance)


def ctx(workspace_id) -> dict:
    return {"context": {"targetingKey": str(workspace_id), "plan": "pro"}}


async def test_single_evaluation_has_the_ofrep_shape_and_reason(client, admin, member, workspace):
    key = flag_key("single")
    await put_flag(client, admin, key, allow_workspaces=[workspace])
    response = await client.post(f"{OFREP}/{key}", headers=member.headers, json=ctx(workspace))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"key": key, "value": True, "reason": "TARGETING_MATCH", "variant": "on"}
    assert_ofrep("serverEvaluationSuccess", body)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"enabled": False}, (False, "DISABLED", "off")),
        ({"rollout_percentage": 100}, (True, "SPLIT", "on")),
        ({"default_variant": "on"}, (True, "DEFAULT", "on")),
        ({}, (False, "DEFAULT", "off")),
    ],
)
async def test_each_rule_answers_with_its_reason(client, admin, member, workspace, spec, expected):
    key = flag_key("rule")
    await put_flag(client, admin, key, **spec)
    body = (await client.post(f"{OFREP}/{key}", headers=member.headers, json=ctx(workspace))).json()
    assert (body["value"], body["reason"], body["variant"]) == expected
    assert_ofrep("serverEvaluationSuccess", body)


async def test_bulk_evaluation_with_etag_and_304(client, admin, member, workspace):
    key = flag_key("bulk")
    denied = flag_key("bulk-denied")
    await put_flag(client, admin, key, rollout_percentage=bucket(key, workspace))
    await put_flag(client, admin, denied, deny_workspaces=[workspace], rollout_percentage=100)
    first = await client.post(OFREP, headers=member.headers, json=ctx(workspace))
    assert first.status_code == 200, first.text
    assert_ofrep("bulkEvaluationSuccess", first.json())
    flags = {f["key"]: f for f in first.json()["flags"]}
    assert flags[key]["reason"] == "SPLIT" and flags[key]["value"] is True
    assert flags[denied] == {
        "key": denied,
        "value": False,
        "reason": "TARGETING_MATCH",
        "variant": "off",
    }
    etag = first.headers["etag"]
    same = await client.post(
        OFREP, headers={**member.headers, "If-None-Match": etag}, json=ctx(workspace)
    )
    assert same.status_code == 304 and same.headers["etag"] == etag and same.content == b""

    await put_flag(client, admin, key, enabled=False)
    changed = await client.post(
        OFREP, headers={**member.headers, "If-None-Match": etag}, json=ctx(workspace)
    )
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_an_unknown_flag_is_a_404_an_ofrep_provider_reads(client, member, workspace):
    response = await client.post(
        f"{OFREP}/no-such-flag", headers=member.headers, json=ctx(workspace)
    )
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "FLAG_NOT_FOUND" and body["request_id"]
    assert_ofrep("flagNotFound", body)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "TARGETING_KEY_MISSING"),
        ({"context": {}}, "TARGETING_KEY_MISSING"),
        ({"context": {"targetingKey": ""}}, "TARGETING_KEY_MISSING"),
        ({"context": {"targetingKey": "user-123"}}, "INVALID_CONTEXT"),
        ({"context": {"targetingKey": 7}}, "INVALID_CONTEXT"),
    ],
)
async def test_bad_contexts_are_400s_with_ofrep_error_codes(client, member, body, code):
    single = await client.post(f"{OFREP}/any-flag", headers=member.headers, json=body)
    bulk = await client.post(OFREP, headers=member.headers, json=body)
    for response, schema in ((single, "evaluationFailure"), (bulk, "bulkEvaluationFailure")):
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == code == response.json()["code"]
        assert_ofrep(schema, response.json())


async def test_a_workspace_the_caller_is_not_in_is_403_whether_or_not_it_exists(
    client, member, workspace
):
    outsider = await signup(client, "outsider")
    for target in (workspace, uuid.uuid4()):
        response = await client.post(OFREP, headers=outsider.headers, json=ctx(target))
        assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"
    assert (await client.post(OFREP, json=ctx(workspace))).status_code == 401
