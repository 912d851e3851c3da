"""The JSON codec of the hot paths: HTTP responses, jsonb columns, cached
documents. Page documents are the bulk of what the service moves, and the
stdlib encoder was a measurable share of a page read, so encoding uses orjson
(falling back to the stdlib for what orjson refuses); decoding uses orjson
where it is exact and the stdlib elsewhere."""

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


# orjson reads integers beyond 64 bits (20 digits, or 19 below -2**63) as
# floats, silently changing a document: text with such a digit run goes to the
# stdlib, which is exact, as does anything orjson refuses (NaN, lone
# surrogates, 1e400), so the result and the errors are always the stdlib's.
# The run is found by mapping every ASCII digit to 1 and every other byte to 0
# and looking for 19 ones: several times faster than a regular expression,
# which would cost more than the decoding it guards. (Only ASCII digits form
# JSON numbers.)
_DIGITS = bytes(1 if 0x30 <= b <= 0x39 else 0 for b in range(256))
_LONG_RUN = b"\x01" * 19


def loads(data: str | bytes) -> Any:
    """`json.loads`, about twice as fast on the documents we read (jsonb
    columns and cached pages are decoded on every page read)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if _LONG_RUN not in raw.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)
