"""Character ranges in a statement as the contract's `Span`: 1-based inclusive
line/column (Calcite's SqlParserPos) and 0-based inclusive offsets."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from lowcode_peers_gen.calcite.v1 import sql_pb2 as pb


@dataclass(frozen=True, slots=True)
class LineIndex:
    """Offsets of line starts, to turn offsets into (line, column) and back."""

    text: str
    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> LineIndex:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        return cls(text, tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, max(len(self.text) - 1, 0)))
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def offset(self, line: int, column: int) -> int:
        line = max(1, min(line, len(self.starts)))
        return self.starts[line - 1] + max(column, 1) - 1

    def span(self, start: int, end: int) -> pb.Span:
        """The span of characters `start..end` (0-based, inclusive)."""
        if not self.text:
            return pb.Span(start_line=1, start_column=1, end_line=1, end_column=1)
        end = max(start, end)
        start_line, start_col = self.line_col(start)
        end_line, end_col = self.line_col(end)
        return pb.Span(
            start_line=start_line,
            start_column=start_col,
            end_line=end_line,
            end_column=end_col,
            start_offset=start,
            end_offset=min(end, len(self.text) - 1),
        )

    def token_span(self, line: int, end_column: int, token: str) -> pb.Span:
        """sqlglot reports a token by its line and its *last* column; the span
        starts `len(token)` characters earlier (clamped to the line)."""
        end = self.offset(line, end_column)
        start = max(self.starts[max(line, 1) - 1], end - max(len(token), 1) + 1)
        return self.span(start, end)


def node_span(index: LineIndex, meta: dict[str, int] | None) -> pb.Span | None:
    """An identifier's span from sqlglot's token metadata (`start`/`end` offsets)."""
    if not meta or "start" not in meta or "end" not in meta:
        return None
    return index.span(int(meta["start"]), int(meta["end"]))


def unterminated(text: str) -> tuple[int, str] | None:
    """Where an unterminated string, quoted identifier or block comment opens.

    sqlglot's tokenizer error names no position, so the peer finds it: the
    first opening quote or `/*` that is never closed (line comments skipped).
    """
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            newline = text.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif ch == "/" and text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                return i, "unterminated comment"
            i = close + 2
        elif ch in "'\"`":
            j = i + 1
            while True:
                j = text.find(ch, j)
                if j < 0:
                    kind = "string" if ch == "'" else "quoted identifier"
                    return i, f"unterminated {kind}"
                if text.startswith(ch * 2, j):  # a doubled quote is an escaped one
                    j += 2
                    continue
                break
            i = j + 1
        else:
            i += 1
    return None
