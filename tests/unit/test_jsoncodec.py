"""The JSON codec decodes exactly as the stdlib does: same values and types
(integers of any size stay integers), same errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lowcode.platform import jsoncodec

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(values)
def test_decoding_matches_the_stdlib(value: Any) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert repr(jsoncodec.loads(text)) == repr(json.loads(text))
        assert repr(jsoncodec.loads(text.encode())) == repr(json.loads(text.encode()))


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",
        "-9223372036854775809",
        "18446744073709551616",
        '{"n": [1, 99999999999999999999999]}',
        "NaN",
        "1e400",
        '"\\ud800"',
        '{"a": 1, "a": 2}',
    ],
)
def test_the_cases_orjson_reads_differently_are_the_stdlibs(text: str) -> None:
    assert repr(jsoncodec.loads(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["", "{", "[1,]", "\x00", '{"a" 1}'])
def test_invalid_json_raises_the_stdlibs_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        jsoncodec.loads(text)
