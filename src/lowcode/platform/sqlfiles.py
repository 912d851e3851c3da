"""Named SQL files (`queries/<context>/*.sql`): where each query is, and errors that say so.

aiosql parses the files, but most of its parse errors name neither the file
nor the line, and a Postgres error points into the SQL aiosql rewrote
(`:page_id` → `$1`, comment lines dropped). Here every error about a query is
one line in the form compilers use, so editors can jump to it:

    queries/pages/comments.sql:8:8: pages.list_comments: column "author_id" does not exist

The same errors come from `make generate`, `lowcode sql vet` and the app's
start-up (`load_queries`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aiosql.query_loader import QueryLoader
from aiosql.utils import SQLParseException

# aiosql's own definition marker: `-- name:` anywhere starts a query.
_DEF = re.compile(r"--\s*name\s*:\s*")
_SPEC = re.compile(r"(?P<name>\w+)\s*(?:\((?P<params>[^)]*)\))?\s*(?P<suffix><!|\*!|\^|\$|!|#)?")
_ANNOTATION = re.compile(
    r"^[ \t]*--[ \t]*@(?P<key>[\w-]+)[ \t]*(?P<value>.*?)[ \t]*$", re.MULTILINE
)
_COMMENT_LINE = re.compile(r"^[ \t]*--.*$", re.MULTILINE)


class QueryError(Exception):
    """One problem with one query, located in its file."""

    def __init__(self, shown_path: str, line: int, col: int, query: str, message: str) -> None:
        super().__init__(message)
        self.shown_path = shown_path
        self.line = line
        self.col = col
        self.query = query
        self.message = message

    def __str__(self) -> str:
        where = f"{self.shown_path}:{self.line}:{self.col}"
        return (
            f"{where}: {self.query}: {self.message}" if self.query else f"{where}: {self.message}"
        )

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.shown_path, self.line, self.col, self.message)


class QueryErrors(Exception):
    """Several query errors, reported together (one line each)."""

    def __init__(self, errors: list[QueryError]) -> None:
        self.errors = sorted(errors, key=QueryError.sort_key)
        super().__init__("\n".join(str(e) for e in self.errors))


def shown(path: Path, root: Path) -> str:
    """`path` as the developer knows it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Annotation:
    key: str
    value: str
    offset: int  # in the file


@dataclass(frozen=True)
class QuerySource:
    """One `-- name:` block of a query file, with enough to locate anything in it."""

    context: str
    name: str
    path: Path
    root: Path
    text: str  # the whole file
    start: int  # offset of `-- name:`
    end: int  # offset of the next definition, or the end of the file
    spec_start: int  # offset of the query's name on its name line
    suffix: str
    suffix_offset: int
    params: list[str] | None
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def qname(self) -> str:
        return f"{self.context}.{self.name}"

    @property
    def block(self) -> str:
        return self.text[self.start : self.end]

    @property
    def shown_path(self) -> str:
        return shown(self.path, self.root)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a file offset."""
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, col

    @property
    def line(self) -> int:
        return self.position(self.start)[0]

    def error(self, message: str, offset: int | None = None) -> QueryError:
        line, col = self.position(self.spec_start if offset is None else offset)
        return QueryError(self.shown_path, line, col, self.qname, message)

    def annotation(self, key: str) -> list[Annotation]:
        return [a for a in self.annotations if a.key == key]

    @property
    def sql_start(self) -> int:
        """Offset of the first SQL character (after the name line and comments)."""
        body = self.block
        first_newline = body.find("\n")
        if first_newline < 0:
            return self.end
        for m in re.finditer(r"^.*$", body[first_newline + 1 :], re.MULTILINE):
            if m.group().strip() and not m.group().lstrip().startswith("--"):
                return (
                    self.start
                    + first_newline
                    + 1
                    + m.start()
                    + (len(m.group()) - len(m.group().lstrip()))
                )
        return self.end

    def find(self, pattern: str, flags: int = re.IGNORECASE) -> int | None:
        """File offset of the first match of `pattern` in the SQL (comment lines blanked)."""
        body = _COMMENT_LINE.sub(lambda m: " " * len(m.group()), self.block)
        first_newline = body.find("\n")
        m = re.compile(pattern, flags).search(body, max(first_newline, 0))
        return self.start + m.start() if m else None

    def offset_of(self, processed_sql: str, position: int) -> int:
        """File offset of a 1-based character `position` in the SQL aiosql built from
        this block (comment lines dropped, `:name` rewritten as `$n`)."""
        block = self.block
        index = min(max(position - 1, 0), max(len(processed_sql) - 1, 0))
        matcher = difflib.SequenceMatcher(None, block, processed_sql, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if j1 <= index < j2:
                if tag == "equal":
                    return self.start + i1 + (index - j1)
                return self.start + min(i1 + (index - j1), max(i2 - 1, i1))
        return self.sql_start


def _source(context: str, path: Path, root: Path, text: str, start: int, end: int) -> QuerySource:
    spec_start = _DEF.match(text, start).end()  # type: ignore[union-attr]
    line_end = text.find("\n", spec_start)
    spec_line = text[spec_start : line_end if line_end >= 0 else len(text)]
    m = _SPEC.match(spec_line)
    name = m.group("name") if m else spec_line.strip()
    params = None
    if m and m.group("params") is not None:
        params = [p.strip() for p in m.group("params").split(",") if p.strip()]
    suffix = (m.group("suffix") or "") if m else ""
    suffix_offset = spec_start + (
        m.start("suffix") if m and m.group("suffix") else len(spec_line.rstrip())
    )
    annotations = [
        Annotation(a.group("key"), a.group("value"), start + a.start("key") - 1)
        for a in _ANNOTATION.finditer(text[start:end])
    ]
    return QuerySource(
        context, name, path, root, text, start, end, spec_start, suffix, suffix_offset, params,
        annotations,
    )  # fmt: skip


def scan_file(context: str, path: Path, root: Path) -> list[QuerySource]:
    text = path.read_text()
    starts = [m.start() for m in _DEF.finditer(text)]
    ends = [*starts[1:], len(text)]
    return [_source(context, path, root, text, s, e) for s, e in zip(starts, ends, strict=True)]


def scan(queries_dir: Path, root: Path | None = None) -> list[QuerySource]:
    """Every query of every context folder, in file order. Two queries of one
    name in one folder (aiosql would keep the last silently) are an error."""
    root = root or queries_dir.parent
    found: list[QuerySource] = []
    errors: list[QueryError] = []
    for folder in sorted(p for p in queries_dir.iterdir() if p.is_dir()):
        seen: dict[str, QuerySource] = {}
        for path in sorted(folder.glob("*.sql")):
            for source in scan_file(folder.name, path, root):
                if first := seen.get(source.name):
                    errors.append(
                        source.error(
                            f"query name {source.name} is already defined at "
                            f"{first.shown_path}:{first.line} (names are unique per folder)"
                        )
                    )
                    continue
                seen[source.name] = source
                found.append(source)
    if errors:
        raise QueryErrors(errors)
    return found


# ---- aiosql parse errors, located ---------------------------------------------------


def _parse_error(path: Path, root: Path, context: str, query: str, exc: Exception) -> QueryError:
    """aiosql's message for one `-- name:` block, rewritten with its place in the file."""
    text = path.read_text()
    spec_line = query.strip().splitlines()[0] if query.strip() else ""
    m = re.search(_DEF.pattern + re.escape(spec_line), text)
    if m is None:
        return QueryError(shown(path, root), 1, 1, context, str(exc))
    start = m.start()
    nxt = _DEF.search(text, m.end())
    source = _source(context, path, root, text, start, nxt.start() if nxt else len(text))
    message = str(exc)
    declared = "(" + ", ".join(source.params or []) + ")"
    if found := re.match(r"undeclared parameter name in query \w+: (\w+)", message):
        param = found.group(1)
        offset = source.find(rf"(?<!:):{param}\b", 0)
        return source.error(
            f"parameter :{param} is used in the SQL but not declared in {source.name}{declared}",
            offset,
        )
    if found := re.match(r"unused declared parameter in query \w+: \[(.*)\]", message):
        unused = [p.strip(" '\"") for p in found.group(1).split(",")]
        at = text.find(unused[0], source.spec_start, text.find("\n", source.spec_start))
        return source.error(
            f"parameter {', '.join(unused)} is declared in {source.name}{declared} "
            "but the SQL does not use it",
            at if at >= 0 else None,
        )
    if message.startswith("missing mandatory parameter list"):
        return source.error(
            f"the name line needs a parameter list: {source.name}(a, b){source.suffix}, "
            f"or {source.name}(){source.suffix} when the query takes none",
            source.suffix_offset,
        )
    if message.startswith("invalid query name and operation spec"):
        return source.error(
            f"cannot read the name line {spec_line!r}: expected name(param, …) followed by "
            "one of ^ $ ! <! *! # or nothing"
        )
    if message.startswith(("empty query", "empty sql")):
        return source.error("no SQL after the name line")
    if message.startswith("cannot use named parameters in SQL script"):
        return source.error("a script (#) takes no parameters")
    return source.error(message)


class LocatedQueryLoader(QueryLoader):
    """aiosql's loader with every parse error turned into a located `QueryError`.

    `_make_query_datum` is aiosql's per-block hook (aiosql is pinned in
    pyproject.toml); overriding it is the only place that knows the block.
    """

    root: Path = Path.cwd()
    # Parsed trees by folder, adapter type and the files' (name, mtime, size):
    # `lowcode serve` checks the files before starting and loads them again
    # in its lifespan; the second load reuses the first parse (cold start).
    _parsed: ClassVar[dict[Any, Any]] = {}

    def load_query_data_from_dir_path(
        self, dir_path: Any, ext: Any = (".sql",), encoding: Any = None
    ) -> Any:
        path = Path(dir_path)
        files = tuple(
            (str(f), st.st_mtime_ns, st.st_size)
            for f in sorted(path.rglob("*"))
            if f.suffix in tuple(ext) and f.is_file() and (st := f.stat())
        )
        key = (
            str(path.resolve()),
            tuple(ext),
            encoding,
            str(self.root),
            type(self._driver_adapter),
            tuple(sorted(self._record_classes)),
            files,
        )
        # The asyncpg adapter keeps what parsing learnt (each query's parameter
        # order, `var_sorted`): a reused tree hands that to the new adapter.
        adapter_state = getattr(self._driver_adapter, "var_sorted", None)
        cached = self._parsed.get(key)
        if cached is None:
            tree = super().load_query_data_from_dir_path(dir_path, ext=ext, encoding=encoding)
            learnt = {k: list(v) for k, v in (adapter_state or {}).items()}
            self._parsed.clear()  # one tree is all a process needs
            self._parsed[key] = (tree, learnt)
            return tree
        tree, learnt = cached
        if adapter_state is not None:
            adapter_state.update({k: list(v) for k, v in learnt.items()})
        return tree

    def _make_query_datum(self, query: str, ns_parts: list[str], floc: tuple[Any, int]) -> Any:
        try:
            return super()._make_query_datum(query, ns_parts, floc)
        except SQLParseException as e:
            context = ".".join(ns_parts)
            raise _parse_error(Path(floc[0]), self.root, context, query, e) from None


def located_loader(root: Path) -> type[LocatedQueryLoader]:
    return type("LocatedQueryLoader", (LocatedQueryLoader,), {"root": root})
