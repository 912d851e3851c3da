"""Where ops write and when they collide (SPEC §4.6), and copy-on-write patching."""

from __future__ import annotations

import copy

import jsonpatch
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowcode.pages.document import DocumentLimits, apply_patch
from lowcode.pages.errors import PatchFailed
from lowcode.pages.rebase import History, collision, patch_locations


def hit(mine: list[dict], theirs: list[dict]) -> bool:
    return collision(patch_locations(mine), [(2, patch_locations(theirs))]) is not None


def add(path: str, value: object = 1) -> dict:
    return {"op": "add", "path": path, "value": value}


def rm(path: str) -> dict:
    return {"op": "remove", "path": path}


def rep(path: str, value: object = 1) -> dict:
    return {"op": "replace", "path": path, "value": value}


def mv(source: str, path: str, op: str = "move") -> dict:
    return {"op": op, "from": source, "path": path}


A, KIDS = "/components/a", "/components/a/children"


@pytest.mark.parametrize(
    ("mine", "theirs", "collides"),
    [
        # Different components, different props of one component: no overlap.
        ([add(f"{A}/props/x")], [add("/components/b/props/x")], False),
        ([add(f"{A}/props/x")], [add(f"{A}/props/y")], False),
        # One path a prefix of the other: overlap, both ways.
        ([add(f"{A}/props/x")], [rm(A)], True),
        ([rep(f"{A}/props", {})], [add(f"{A}/props/x")], True),
        ([add(f"{A}/props/x")], [add(f"{A}/props/x", 2)], True),
        # Indices widen to the whole array.
        ([rm(f"{KIDS}/0")], [rm(f"{KIDS}/3")], True),
        ([add(f"{KIDS}/0/x")], [add(f"{KIDS}/1")], True),
        # Appends coexist with appends and with ops at an index, not with the array.
        ([add(f"{KIDS}/-", "n")], [add(f"{KIDS}/-", "m")], False),
        ([add(f"{KIDS}/-", "n")], [rm(f"{KIDS}/2")], False),
        ([add(f"{KIDS}/-", "n")], [rep(KIDS, [])], True),
        ([add(f"{KIDS}/-", "n")], [rm(A)], True),
        # move/copy count from and path.
        ([mv(f"{A}/props/x", "/components/b/props/x")], [add(f"{A}/props/x")], True),
        ([mv(f"{A}/props/x", "/components/c/props/x", "copy")], [add("/components/c/props")], True),
        ([mv(f"{KIDS}/1", "/components/b/children/-")], [add("/components/b/children/-")], False),
        # test ops count nowhere; the root and malformed pointers everywhere.
        ([{"op": "test", "path": A, "value": 1}], [rm(A)], False),
        ([rep("", {})], [add("/components/z/props/q")], True),
        ([add("nope")], [add("/x")], True),
    ],
)
def test_overlap_rule(mine, theirs, collides):
    assert hit(mine, theirs) is collides
    assert hit(theirs, mine) is collides  # symmetric


def test_collision_names_the_version_and_my_location():
    since = [(5, patch_locations([add("/a/b")])), (6, patch_locations([add("/c/0/d")]))]
    assert collision(patch_locations([add("/c/1")]), since) == (6, "/c")
    assert collision(patch_locations([add("/e")]), since) is None


def test_history_answers_for_recent_bases_only():
    h = History(10, keep=3)
    for v in (11, 12, 13, 14):
        h.push(v, [add(f"/p{v}")])
    assert h.floor == 11 and h.head == 14
    assert h.since(10) is None  # forgotten: the op log answers
    assert [v for v, _ in h.since(12) or []] == [13, 14]
    assert h.since(14) == []
    assert h.since(15) is None
    h.push(20, [add("/x")])  # a gap: start again
    assert (h.floor, h.head) == (20, 20)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text("ab", max_size=2),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text("abc", max_size=2), kids, max_size=3)
    ),
    max_leaves=12,
)
pointers = st.lists(st.sampled_from(["a", "b", "c", "0", "1", "-", ""]), max_size=3).map(
    lambda parts: "".join("/" + p for p in parts)
)
operations = st.one_of(
    st.builds(lambda p, v: {"op": "add", "path": p, "value": v}, pointers, json_values),
    st.builds(lambda p: {"op": "remove", "path": p}, pointers),
    st.builds(lambda p, v: {"op": "replace", "path": p, "value": v}, pointers, json_values),
    st.builds(lambda f, p: {"op": "move", "from": f, "path": p}, pointers, pointers),
    st.builds(lambda f, p: {"op": "copy", "from": f, "path": p}, pointers, pointers),
    st.builds(lambda p, v: {"op": "test", "path": p, "value": v}, pointers, json_values),
)


@settings(max_examples=400, deadline=None)
@given(doc=json_values, patch=st.lists(operations, min_size=1, max_size=4), limited=st.booleans())
def test_copy_on_write_matches_jsonpatch_and_never_modifies_its_inputs(doc, patch, limited):
    before_doc, before_patch = copy.deepcopy(doc), copy.deepcopy(patch)
    try:
        expected = jsonpatch.JsonPatch(copy.deepcopy(patch)).apply(copy.deepcopy(doc))
    except Exception:
        expected = PatchFailed
    try:
        got = apply_patch(doc, patch, DocumentLimits() if limited else None)
    except PatchFailed:
        got = PatchFailed
    assert got == expected
    assert doc == before_doc and patch == before_patch
    if got is not PatchFailed:
        # The result shares structure with the input but is never an alias of
        # a container the next op could modify through the input.
        apply_patch(
            got, [{"op": "add", "path": "/zz", "value": 1}] if isinstance(got, dict) else []
        )
        assert doc == before_doc
