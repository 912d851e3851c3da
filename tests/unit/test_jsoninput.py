"""Strict JSON input: what is refused, and the depth scan against a real walk."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowcode.platform.jsoninput import InvalidJson, json_depth, parse, text_depth

# Strings full of the characters the depth scan has to see past.
tricky = st.text(alphabet='ab[]{}"\\/u0', max_size=8)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky, inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(values, st.booleans())
def test_the_depth_scan_agrees_with_a_walk_of_the_parsed_value(value, ascii_only):
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert text_depth(raw, 64) == json_depth(value)


@settings(max_examples=200, deadline=None)
@given(values)
def test_what_passes_parses_to_exactly_what_was_sent(value):
    assert parse(json.dumps(value).encode(), 64) == value


def test_integers_beyond_64_bits_stay_exact():
    assert parse(b"[123456789012345678901234567890]", 64) == [123456789012345678901234567890]


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff{}",
        b"[1, NaN]",
        b"[Infinity]",
        b'"\\ud800"',
        b'["\\ud800", 12345678901234567890]',
        b'{"a": "x\\u0000"}',
        b'{"\\u0000": 1}',
        b"[" * 65 + b"]" * 65,
        b"[" * 5000 + b"]" * 5000,
        b'{"a": 1',
    ],
)
def test_refused(raw):
    with pytest.raises(InvalidJson):
        parse(raw, 64)


def test_an_escaped_backslash_before_u0000_is_only_text():
    assert parse(b'{"a": "\\\\u0000"}', 64) == {"a": "\\u0000"}
