"""Flag evaluation: the order of the rules, Unleash-compatible buckets, and rollouts
that only ever grow."""

import json
import random
import uuid
from pathlib import Path

import mmh3
import pytest

from lowcode.flags.evaluation import ErrorCode, Flag, Reason, bucket, evaluate_flag, not_found
from lowcode.flags.store import FlagStore

VECTORS = json.loads((Path(__file__).parent / "data" / "unleash_rollout_vectors.json").read_text())

W = uuid.UUID("6f1c2a44-0d55-4a8e-9e7b-3a2d1c0b9f88")


def flag(**kw) -> Flag:
    return Flag(kw.pop("key", "f"), kw.pop("enabled", True), **kw)


def test_murmur3_is_the_x86_32_variant_unleash_uses():
    assert mmh3.hash("hello", 0, signed=False) == 0x248BFA47


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["description"])
def test_rollouts_agree_with_unleash_client_specification(case):
    f = flag(key=case["groupId"], rollout_percentage=case["percentage"])
    result = evaluate_flag(f, case["userId"])
    assert result.value is case["expectedResult"]
    assert result.reason is (Reason.SPLIT if case["expectedResult"] else Reason.DEFAULT)


@pytest.mark.parametrize(
    "v", VECTORS["normalizedValues"], ids=lambda v: f"{v['groupId']}:{v['userId']}"
)
def test_bucket_is_unleash_normalized_value(v):
    assert bucket(v["groupId"], v["userId"]) == v["normalized"]


def test_a_disabled_flag_is_off_for_everyone_even_allowed_workspaces():
    r = evaluate_flag(
        flag(enabled=False, allow_workspaces=frozenset({W}), rollout_percentage=100), W
    )
    assert (r.value, r.reason, r.variant) == (False, Reason.DISABLED, "off")


def test_deny_wins_over_allow_and_rollout():
    f = flag(
        allow_workspaces=frozenset({W}), deny_workspaces=frozenset({W}), rollout_percentage=100
    )
    r = evaluate_flag(f, W)
    assert (r.value, r.reason, r.variant) == (False, Reason.TARGETING_MATCH, "off")


def test_allow_list_turns_it_on_at_zero_percent():
    r = evaluate_flag(flag(allow_workspaces=frozenset({W})), W)
    assert (r.value, r.reason, r.variant) == (True, Reason.TARGETING_MATCH, "on")


def test_bucket_within_the_percentage_is_a_split():
    f = flag(key="split-me", rollout_percentage=bucket("split-me", W))
    r = evaluate_flag(f, W)
    assert (r.value, r.reason, r.variant) == (True, Reason.SPLIT, "on")
    below = evaluate_flag(flag(key="split-me", rollout_percentage=bucket("split-me", W) - 1), W)
    assert below.reason is Reason.DEFAULT


def test_otherwise_the_default_variant_decides():
    off = evaluate_flag(flag(), W)
    assert (off.value, off.reason, off.variant) == (False, Reason.DEFAULT, "off")
    on = evaluate_flag(flag(default_variant="on"), W)
    assert (on.value, on.reason, on.variant) == (True, Reason.DEFAULT, "on")


def test_an_unknown_flag_gives_the_callers_default_with_an_error():
    r = not_found("nope", True)
    assert (r.value, r.reason, r.error_code) == (True, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND)


def test_settings_defaults_answer_for_flags_the_database_lacks():
    store = FlagStore({"beta": True, "legacy-ui": False})
    assert store.evaluate("beta", W).value is True
    assert store.evaluate("legacy-ui", W).value is False
    assert store.evaluate("beta", W).reason is Reason.DEFAULT
    assert store.evaluate("missing", W, default=True).reason is Reason.ERROR
    with pytest.raises(ValueError, match="invalid flag keys"):
        FlagStore({"bad key": True})


def _workspaces(n: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=(i * 0x9E3779B97F4A7C15 + 1) % (1 << 128), version=4) for i in range(n)]


def test_a_workspace_in_the_10_percent_stays_in_at_20_percent():
    workspaces = _workspaces(2000)
    at = {
        p: {w for w in workspaces if evaluate_flag(flag(key="grow", rollout_percentage=p), w).value}
        for p in (10, 20, 50, 100)
    }
    assert at[10] and at[10] <= at[20] <= at[50] <= at[100] == set(workspaces)


@pytest.mark.parametrize("percentage", [1, 10, 25, 50, 90])
def test_ten_thousand_workspaces_split_within_two_points_of_the_percentage(percentage):
    rng = random.Random(percentage)  # fixed ids: the test cannot flake
    workspaces = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(10_000)]
    on = sum(
        evaluate_flag(flag(key="dist", rollout_percentage=percentage), w).value for w in workspaces
    )
    assert abs(on / 100 - percentage) <= 2, on
