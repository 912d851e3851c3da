"""A second `lowcode serve` process: flag changes made through this one reach
it within a second, and the OpenFeature SDK's OFREP provider evaluates our
flags over HTTP."""

import asyncio
import time

import httpx
import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from lowcode.flags.evaluation import bucket
from tests.api.toggles.support import flag_key, put_flag
from tests.processes import serving


@pytest.fixture(scope="module")
def second_api(database_url, redis_url, tmp_path_factory):
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_FORMAT": "json"}
    with serving(env, tmp_path_factory.mktemp("second-api") / "serve.log") as server:
        yield server.http


async def test_a_flag_change_reaches_a_second_api_process_within_a_second(
    client, admin, member, workspace, second_api
):
    key = flag_key("propagated")
    body = {"context": {"targetingKey": workspace}}

    async with httpx.AsyncClient(base_url=second_api, headers=member.headers) as other:

        async def value_there():
            response = await other.post(f"/ofrep/v1/evaluate/flags/{key}", json=body)
            return response.json()["value"] if response.status_code == 200 else None

        await put_flag(client, admin, key, enabled=False)
        deadline = time.monotonic() + 15
        while await value_there() is not False:  # the flag exists there: it is listening
            assert time.monotonic() < deadline, "the second process never saw the flag"
            await asyncio.sleep(0.05)

        for wanted in (True, False, True):
            started = time.monotonic()
            await put_flag(client, admin, key, enabled=wanted, rollout_percentage=100)
            while await value_there() is not wanted:
                assert time.monotonic() - started < 1.0, f"not seen within 1 s ({wanted})"
                await asyncio.sleep(0.01)
            print(f"flag change seen by the second process after {time.monotonic() - started:.3f}s")


async def _until_known_there(base: str, member, workspace: str, keys: set[str]) -> None:
    body = {"context": {"targetingKey": workspace}}
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(base_url=base, headers=member.headers) as other:
        while True:
            flags = (await other.post("/ofrep/v1/evaluate/flags", json=body)).json()["flags"]
            if keys <= {f["key"] for f in flags}:
                return
            assert time.monotonic() < deadline, "the second process never saw the flags"
            await asyncio.sleep(0.05)


def _evaluate_with_openfeature(base: str, token: str, workspace: str, keys: list[str]):
    provider = OFREPProvider(base, headers_factory=lambda: {"Authorization": f"Bearer {token}"})
    api.set_provider(provider, "lowcode-ofrep-test")
    of_client = api.get_client("lowcode-ofrep-test")
    context = EvaluationContext(targeting_key=workspace, attributes={"plan": "pro"})
    details = [of_client.get_boolean_details(k, True, context) for k in keys]
    details.append(of_client.get_boolean_details(keys[0], True, EvaluationContext()))
    return details


async def test_the_openfeature_ofrep_provider_evaluates_our_flags(
    client, admin, member, workspace, second_api
):
    split, allowed, disabled, default = (flag_key(t) for t in ("split", "allow", "off", "dflt"))
    await put_flag(client, admin, split, rollout_percentage=bucket(split, workspace))
    await put_flag(client, admin, allowed, allow_workspaces=[workspace])
    await put_flag(client, admin, disabled, enabled=False)
    await put_flag(client, admin, default, default_variant="off")
    keys = [split, allowed, disabled, default, "missing-flag"]
    await _until_known_there(second_api, member, workspace, set(keys[:4]))

    results = await asyncio.to_thread(
        _evaluate_with_openfeature, second_api, member.access_token, workspace, keys
    )
    got = [(d.value, d.reason, d.variant, d.error_code) for d in results]
    assert got[0] == (True, Reason.SPLIT, "on", None)
    assert got[1] == (True, Reason.TARGETING_MATCH, "on", None)
    assert got[2] == (False, Reason.DISABLED, "off", None)
    assert got[3] == (False, Reason.DEFAULT, "off", None)
    # Unknown flag and missing targeting key: the code default, with OFREP's error code.
    assert (got[4][0], got[4][3]) == (True, ErrorCode.FLAG_NOT_FOUND)
    assert (got[5][0], got[5][3]) == (True, ErrorCode.TARGETING_KEY_MISSING)
