"""Log lines cannot be forged, and query-string secrets never reach a line."""

import io
import json
import logging

from lowcode.platform.logging import build_handler


def emit(fmt: str, msg: str, *args: object, **extra: object) -> str:
    stream = io.StringIO()
    logger = logging.getLogger(f"lowcode.test.{fmt}")
    logger.propagate = False
    handler = build_handler(fmt, stream)
    logger.addHandler(handler)
    try:
        logger.warning(msg, *args, extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_console_lines_escape_control_characters():
    forged = "/api/v1/x\n2026-11-22 12:00:00 INFO  lowcode.access admin logged in"
    out = emit("console", "%s %s", "GET", forged, path=forged)
    assert out.count("\n") == 1 and out.endswith("\n")
    assert "\\n2026-11-22" in out


def test_secrets_in_query_strings_are_redacted_from_any_message():
    line = '%s - "WebSocket %s" [accepted]'
    for fmt in ("json", "console"):
        out = emit(fmt, line, "127.0.0.1:5", "/ws/pages/p?access_token=abc.def.ghi&x=1")
        assert "abc.def.ghi" not in out and "x=1" in out
    parsed = json.loads(emit("json", line, "127.0.0.1:5", "/ws/events?token=zzz"))
    assert parsed["message"].endswith('/ws/events?token=[REDACTED]" [accepted]')
