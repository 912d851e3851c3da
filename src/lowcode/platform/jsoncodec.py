"""One fast JSON codec (orjson) for the hot paths: HTTP responses, jsonb columns,
cached documents. Page documents are the bulk of what the service moves, and
the stdlib encoder was a measurable share of a page read."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(obj: Any, **_ignored: Any) -> str:
    """`json.dumps`-compatible (Connexion passes `cls=`; orjson needs none)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def dumpb(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def loads(data: str | bytes) -> Any:
    return orjson.loads(data)
