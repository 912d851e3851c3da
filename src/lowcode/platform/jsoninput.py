"""Parsing JSON that comes from outside (request bodies, WebSocket frames).

Stricter than `json.loads`, because everything after parsing is recursive
code with a bounded stack (jsonschema, deepcopy, encoders) or a peer with a
stricter parser (browsers): the text must be UTF-8, nest no deeper than a
limit, and hold no `NaN`/`Infinity` (not JSON, and Postgres jsonb and
`JSON.parse` refuse them) and no U+0000 (no Postgres text type stores it).
Every failure is `InvalidJson` with a message fit for a 400 problem or an
`INVALID_MESSAGE` frame.
"""

from __future__ import annotations

import contextlib
import gc
import json
import re
from collections.abc import Iterator
from typing import Any

import orjson


class InvalidJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON value")


def json_depth(value: Any, stop_above: int | None = None) -> int:
    """Nesting depth of a JSON value: 0 for a scalar, 1 for `{}` or `[]`.
    Iterative (no recursion); stops early once the depth exceeds `stop_above`."""
    if not isinstance(value, dict | list):
        return 0
    deepest = 1
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if stop_above is not None and deepest > stop_above:
                return deepest
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return deepest


def text_depth(raw: bytes, stop_above: int) -> int:
    """Nesting depth of JSON text, without parsing it (exact for valid JSON;
    invalid JSON is the parser's to refuse): a few C-speed passes instead of
    a Python walk of every value, the bulk of parsing cost on page bodies.

    Escaped backslashes and quotes go first, so every remaining quote opens
    or closes a string; then everything but quotes and brackets, then the
    strings with the brackets they hold; then innermost pairs, level by level.
    (Property-tested against a walk of the parsed value.)
    """
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    text = text.translate(None, _NOT_STRUCTURE)
    text = b"".join(text.split(b'"')[::2])  # every other piece is inside a string
    depth = 0
    while text and depth <= stop_above:
        inner = _EMPTY_PAIR.sub(b"", text)  # one level: pairs emptied now wait a pass
        if inner == text:
            return depth  # unbalanced: not JSON, which the parser will say
        text, depth = inner, depth + 1
    return depth if not text else stop_above + 1


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_EMPTY_PAIR = re.compile(rb"\{\}|\[\]")


def parse(data: bytes | str, max_depth: int) -> Any:
    """The JSON value in `data`, or InvalidJson."""
    raw = data.encode() if isinstance(data, str) else data
    if text_depth(raw, max_depth) > max_depth:
        # Before parsing: a deep value never reaches the (recursive) parsers.
        raise InvalidJson(f"JSON nested deeper than {max_depth} levels")
    if _LONG_DIGITS not in raw.translate(_DIGITS_AS_ZERO):
        # orjson: several times faster than the stdlib on page-sized bodies,
        # and strict on its own (UTF-8, lone surrogates, NaN, depth 1024).
        try:
            with _no_cycle_collection():
                value = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise InvalidJson(_orjson_message(raw, e)) from e
    else:
        # orjson reads integers beyond 64 bits as floats, silently changing
        # the value; the stdlib keeps them exact (and is then made as strict).
        value = _stdlib_parse(raw)
    if b"\\u0000" in raw and _holds_nul(value):
        raise InvalidJson(NUL_MESSAGE)
    return value


# A run of 19 digits: an integer that may not fit 64 bits (or a long digit
# string inside a JSON string, which merely takes the slower path). Found by
# mapping every digit to "0" and searching, both at C speed.
_DIGITS_AS_ZERO = bytes(b"0"[0] if 48 <= b <= 57 else b"."[0] for b in range(256))
_LONG_DIGITS = b"0" * 19
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB]")


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Parsed JSON holds no reference cycles, so the cycle collector has
    nothing to find in it; but the tens of thousands of containers a page
    body allocates trigger its passes over the whole heap, which measured here
    at 130 ms on top of an 18 ms parse. Paused for the parse only."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _orjson_message(raw: bytes, error: orjson.JSONDecodeError) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"the body is not UTF-8 (byte {e.start})"
    if "depth limit" in str(error):
        return "JSON nested too deep"
    return f"not valid JSON: {error}"


def _stdlib_parse(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidJson(f"the body is not UTF-8 (byte {e.start})") from e
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except InvalidJson:
        raise
    except RecursionError as e:
        # The C scanner stops at the interpreter's recursion limit.
        raise InvalidJson("JSON nested too deep") from e
    except ValueError as e:  # JSONDecodeError, and integers of more than 4300 digits
        raise InvalidJson(f"not valid JSON: {e}") from e
    if _SURROGATE_ESCAPE.search(raw) and _holds_lone_surrogate(value):
        raise InvalidJson("a string holds a lone UTF-16 surrogate")
    return value


def _holds_lone_surrogate(value: Any) -> bool:
    for text in _strings(value):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


# PostgreSQL stores no U+0000 in text or jsonb: refused at the door (400)
# rather than failing in the database (500) or being silently dropped.
NUL_MESSAGE = "text must not contain U+0000 (NUL)"


def _holds_nul(value: Any) -> bool:
    return any("\x00" in text for text in _strings(value))


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, object keys included."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
