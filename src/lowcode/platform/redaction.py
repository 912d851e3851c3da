"""Keep secrets out of logs: redact sensitive fields, truncate large bodies."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from lowcode.platform import jsoninput

REDACTED = "[REDACTED]"
_MAX_DEPTH = 64
TRUNCATED_MARKER = "... (truncated)"

# password, new_password, access_token, refresh_token, client_secret, authorization, cookie…
_SENSITIVE = re.compile(
    r"(passw(or)?d|token|secret|authorization|cookie|api[_-]?key|credential)", re.IGNORECASE
)


# Substrings of every sensitive key, for a cheap "could there be a secret?" scan
# of raw bodies (bytes.find is far faster than a case-insensitive regex).
_SENSITIVE_MARKERS = (
    b"passw", b"token", b"secret", b"authorization", b"cookie", b"api_key", b"api-key",
    b"apikey", b"credential",
)  # fmt: skip


def _may_hold_secrets(raw: bytes) -> bool:
    # A `\u` escape can spell any key (`"pass\u0077ord"`): such bodies are
    # always parsed, so redaction sees the keys as the application does.
    lowered = raw.lower()
    return b"\\u" in raw or any(marker in lowered for marker in _SENSITIVE_MARKERS)


def is_sensitive(key: str) -> bool:
    return bool(_SENSITIVE.search(key))


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with every sensitive key's value replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_sensitive(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if is_sensitive(k) else v) for k, v in pairs])


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATED_MARKER


def body_for_log(raw: bytes, content_type: str | None, limit: int) -> str | None:
    """The body as it goes into the access log: JSON redacted (and truncated at
    `limit` characters), any other body as its size and type only."""
    if not raw:
        return None
    ctype = (content_type or "").lower()
    if "json" in ctype and not _may_hold_secrets(raw):
        # Nothing to redact (the common case: a page document): skip the parse.
        return truncate(raw[: limit * 4].decode("utf-8", "replace"), limit)
    if "json" in ctype:
        try:
            # Bounded like any input: `redact` recurses, and this runs in the
            # access log's `finally`, where an exception would lose the line.
            parsed = jsoninput.parse(raw, _MAX_DEPTH)
        except jsoninput.InvalidJson:
            # Unparseable JSON may still hold a secret; redact `"key": "value"` pairs textually.
            text = raw.decode("utf-8", "replace")
            return truncate(_redact_text(text), limit)
        return truncate(json.dumps(redact(parsed), ensure_ascii=False), limit)
    # Anything else (text/plain from a browser's fetch, forms, no type at all)
    # is logged by size only: a login body sent as text/plain is still a login.
    return f"<{len(raw)} bytes {ctype or 'untyped'}>"


_TEXT_PAIR = re.compile(r'("([^"]*)"\s*:\s*)"((?:[^"\\]|\\.)*)"')


def _key(raw: str) -> str:
    """A JSON key as the parser reads it (escapes resolved), best effort."""
    try:
        return str(json.loads(f'"{raw}"'))
    except ValueError:
        return raw


def _redact_text(text: str) -> str:
    return _TEXT_PAIR.sub(
        lambda m: f'{m.group(1)}"{REDACTED}"' if is_sensitive(_key(m.group(2))) else m.group(0),
        text,
    )
