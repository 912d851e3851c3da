"""The JSON codec of the hot paths: HTTP responses, jsonb columns, cached
documents. Page documents are the bulk of what the service moves, and the
stdlib encoder was a measurable share of a page read, so encoding uses orjson
(falling back to the stdlib for what orjson refuses); decoding uses orjson
where it is exact and the stdlib elsewhere."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson


def dumps(obj: Any, **_ignored: Any) -> str:
    """`json.dumps`-compatible (Connexion passes `cls=`; orjson needs none)."""
    return dumpb(obj).decode()


def dumpb(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        # JSON allows integers of any size and clients send them (found by the
        # property test); orjson stops at 64 bits, the stdlib does not.
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode()


# orjson reads integers beyond 64 bits (20 digits, or 19 below -2**63) as
# floats, silently changing a document: text with such a digit run goes to the
# stdlib, which is exact, as does anything orjson refuses (NaN, lone
# surrogates, 1e400), so the result and the errors are always the stdlib's.
_LONG_DIGITS_STR = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def loads(data: str | bytes) -> Any:
    """`json.loads`, several times faster on the documents we read (jsonb
    columns and cached pages are decoded on every page read)."""
    long_digits = (
        _LONG_DIGITS_STR.search(data) if isinstance(data, str) else _LONG_DIGITS_BYTES.search(data)
    )
    if long_digits is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)
