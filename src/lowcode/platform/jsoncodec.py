"""The JSON codec of the hot paths: HTTP responses, jsonb columns, cached
documents. Page documents are the bulk of what the service moves, and the
stdlib encoder was a measurable share of a page read, so encoding uses orjson
(falling back to the stdlib for what orjson refuses); decoding stays exact."""

from __future__ import annotations

import json
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


def loads(data: str | bytes) -> Any:
    # The stdlib, not orjson: orjson reads integers beyond 64 bits as floats,
    # silently changing a document; decoding is the cheaper half anyway.
    return json.loads(data)
