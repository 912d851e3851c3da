"""Bounded cost of the document rules (security review findings 1, 2 and 13)."""

from __future__ import annotations

import gc
import time
import tracemalloc

import pytest

from lowcode.pages.document import (
    DocumentLimits,
    apply_and_validate,
    apply_patch,
    encoded_size,
    new_document,
    validate_document,
)
from lowcode.pages.errors import InvalidDocument, PageTooLarge, PatchFailed, PatchTooCostly
from lowcode.platform.jsoninput import json_depth
from tests.support import chain_document

LIMITS = DocumentLimits()


def copy_bomb(doc: dict, ops: int) -> list[dict]:
    """Each op copies the components map into a prop of the root: the document doubles."""
    root = doc["rootId"]
    return [
        {"op": "copy", "from": "/components", "path": f"/components/{root}/props/p{i}"}
        for i in range(ops)
    ]


def test_a_patch_of_doubling_copies_is_refused_quickly():
    # Without the per-op check, 30 copies make a document of about 50 GiB.
    doc = new_document()
    # The work measured is the patch's, not a full collection of whatever heap
    # the test session has built up by now (the API test times it end to end).
    gc.collect()
    started = time.process_time()
    with pytest.raises(PageTooLarge) as err:
        apply_patch(doc, copy_bomb(doc, 30), LIMITS)
    assert time.process_time() - started < 0.5
    assert err.value.extra["opIndex"] < 30


def test_a_patch_of_doubling_copies_never_holds_much_more_than_the_size_limit():
    doc = new_document()
    tracemalloc.start()
    try:
        with pytest.raises(PageTooLarge):
            apply_patch(doc, copy_bomb(doc, 30), LIMITS)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, peak


def test_moves_that_stay_within_the_size_limit_but_churn_run_out_of_work_budget():
    # Moving a subtree deeper costs a walk of it (its depth is checked), so a
    # patch that moves a big subtree down and up again, over and over, is
    # bounded by the work budget, not by growth.
    doc = new_document()
    doc["a"] = {"blob": "x" * 100_000}
    doc["b"] = {}
    churn = []
    for _ in range(200):
        churn += [
            {"op": "move", "from": "/a", "path": "/b/a"},
            {"op": "move", "from": "/b/a", "path": "/a"},
        ]
    with pytest.raises(PatchTooCostly):
        apply_patch(doc, churn, DocumentLimits(max_patch_work_bytes=4 * 2**20))


def test_an_ordinary_patch_is_unaffected_by_the_budget():
    doc = new_document()
    root = doc["rootId"]
    patch = [
        {"op": "add", "path": "/components/b", "value": {"id": "b", "name": "B", "children": []}},
        {"op": "add", "path": f"/components/{root}/children/-", "value": "b"},
        {"op": "copy", "from": "/components/b/name", "path": f"/components/{root}/props/label"},
        {"op": "move", "from": f"/components/{root}/props/label", "path": "/components/b/props"},
    ]
    after = apply_and_validate(doc, [patch[:2], patch[2:3]], LIMITS)
    assert after["components"][root]["props"] == {"label": "B"}


def test_a_value_nested_past_the_json_depth_limit_is_refused_not_a_recursion_error():
    doc = new_document()
    deep: object = 1
    for _ in range(2000):
        deep = {"d": deep}
    with pytest.raises(InvalidDocument):
        apply_patch(doc, [{"op": "add", "path": "/deep", "value": deep}], LIMITS)


def test_a_move_that_nests_a_subtree_too_deep_is_refused():
    doc = new_document()
    nested: object = 1
    for _ in range(40):
        nested = {"d": nested}
    doc["a"] = nested
    doc["b"] = {}
    b_path = "/b" + "/x" * 0
    ok = apply_patch(doc, [{"op": "move", "from": "/a", "path": b_path + "/a"}], LIMITS)
    assert json_depth(ok) == 42
    deep_target = "/b" + "".join(f"/k{i}" for i in range(30))
    build = [{"op": "add", "path": "/b" + "".join(f"/k{j}" for j in range(i + 1)), "value": {}}
             for i in range(29)]  # fmt: skip
    with pytest.raises(InvalidDocument):
        apply_patch(doc, [*build, {"op": "move", "from": "/a", "path": deep_target}], LIMITS)


def test_without_limits_a_trusted_patch_still_reports_the_failing_operation():
    with pytest.raises(PatchFailed) as err:
        apply_patch(
            new_document(),
            [{"op": "add", "path": "/a", "value": 1}, {"op": "remove", "path": "/zz"}],
        )
    assert err.value.extra["opIndex"] == 1


def test_a_two_mebibyte_chain_is_checked_in_linear_time():
    # About 40,000 components in one chain: the old check walked every
    # component's ancestry (n²/2 steps, minutes). Caps raised so the whole
    # walk runs rather than the early count check.
    limits = DocumentLimits(max_bytes=4 * 2**20, max_components=10**6, max_tree_depth=10**6)

    def cpu_seconds(n: int) -> float:
        doc = chain_document(n, name_len=10)
        gc.collect()
        started = time.process_time()
        validate_document(doc, limits)
        return time.process_time() - started

    big = chain_document(40_000, name_len=10)
    assert encoded_size(big) > 2 * 2**20 * 0.9
    small, large = (
        min(cpu_seconds(5_000) for _ in range(3)),
        min(cpu_seconds(40_000) for _ in range(3)),
    )
    # The API test holds the whole request to 0.1 s of CPU; here the shape is
    # what matters (linear), with room for a loaded machine.
    assert large < 0.25, large
    assert large < 8 * 3 * small + 0.01, (small, large)  # 8x the input: linear, not 64x


def test_a_long_chain_is_refused_by_the_depth_cap_and_a_huge_one_by_the_count_cap():
    with pytest.raises(InvalidDocument) as err:
        validate_document(chain_document(500), LIMITS)
    assert "deeper than 100" in err.value.errors[0].message
    huge = chain_document(40_000)
    started = time.process_time()
    with pytest.raises(InvalidDocument) as err:
        validate_document(huge, DocumentLimits(max_bytes=4 * 2**20))
    assert time.process_time() - started < 0.1
    assert "the limit is 10000" in err.value.errors[0].message


def test_a_cycle_away_from_the_root_is_found():
    doc = new_document()
    doc["components"]["a"] = {"id": "a", "name": "A", "children": ["b"]}
    doc["components"]["b"] = {"id": "b", "name": "B", "children": ["a"]}
    with pytest.raises(InvalidDocument) as err:
        validate_document(doc, LIMITS)
    assert err.value.errors[0].message == "the components form a cycle"
