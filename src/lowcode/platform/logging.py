"""Logging setup: JSON lines (production) or readable console lines (local work).

Every record carries `request_id` and `trace_id` when there is one, so a log
line can be joined to its access-log line and its trace.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from typing import IO, Any

from opentelemetry import trace
from pythonjsonlogger.orjson import OrjsonFormatter

from lowcode.platform.request_context import current_request_id

# `name=value` in a query string whose name says secret (`?access_token=…`):
# uvicorn logs every WebSocket request line with its query.
_SECRET_QUERY_VALUE = re.compile(
    r"(?i)([?&][^=&\s\"']*(?:passw(?:or)?d|token|secret|api[_-]?key|credential)[^=&\s\"']*=)"
    r"[^&\s\"']*"
)


def redact_query_values(text: str) -> str:
    return _SECRET_QUERY_VALUE.sub(r"\1[REDACTED]", text)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn attaches an ANSI-coloured copy of its message; not for logs.
        record.__dict__.pop("color_message", None)
        if record.args and any(isinstance(a, str) and "?" in a for a in record.args):
            message = record.getMessage()
            redacted = redact_query_values(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        if not hasattr(record, "trace_id"):
            ctx = trace.get_current_span().get_span_context()
            record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        return True


class ConsoleFormatter(logging.Formatter):
    """`time level logger [request_id] message key=value…` for humans."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

    def format(self, record: logging.LogRecord) -> str:
        # A request path may carry `%0A`: one record must stay one line, so
        # control characters in the message and extras are escaped (the
        # traceback, which we write, keeps its newlines).
        safe = copy.copy(record)
        safe.msg, safe.args = _escape(record.getMessage()), None
        base = super().format(safe)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in self._STANDARD
            and k not in {"request_id", "trace_id", "color_message"}
            and v is not None
        }
        rid = getattr(record, "request_id", None)
        prefix = f"[{rid}] " if rid else ""
        tail = " ".join(f"{k}={_escape(_short(v))}" for k, v in extras.items())
        head, _, rest = base.partition("\n")
        line = f"{head.replace('@@RID@@', prefix)}{(' ' + tail) if tail else ''}"
        return line + ("\n" + rest if rest else "")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def _escape(text: str) -> str:
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"


def build_handler(fmt: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing our log format to `stream` (stdout by default)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    if fmt == "console":
        handler.setFormatter(
            ConsoleFormatter("%(asctime)s %(levelname)-5s %(name)s @@RID@@%(message)s")
        )
    else:
        # orjson: access-log lines carry bodies of up to 50 KB, one per request.
        handler.setFormatter(
            OrjsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                datefmt="%Y-%m-%dT%H:%M:%S%z",
            )
        )
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """Install one handler on the root logger; idempotent."""
    handler = build_handler(fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_lowcode", False):
            root.removeHandler(old)
    handler._lowcode = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs full URLs (tokens in query strings) at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # uvicorn's own access log would duplicate ours.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
