"""Package layering, read from the source: `platform` is a leaf under the
contexts, and `events` does not reach into `collab` (the WebSocket plumbing
both use lives in `platform.websocket`). Every import counts, also those inside
functions and under `TYPE_CHECKING`."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import lowcode

SRC = Path(lowcode.__file__).parent.parent


def imports_under(src: Path, package: str) -> Iterator[tuple[str, str]]:
    """(file:line, absolute module name) of every import in `package`'s modules
    (found under `src`). `from a import b` counts as `a` and `a.b`: `b` may be
    a module (`from lowcode import collab`)."""
    for path in sorted((src / package.replace(".", "/")).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        current = ".".join(parts if parts[-1] != "__init__" else parts[:-1])
        home = current if path.name == "__init__.py" else current.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(src)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield where, alias.name
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = home.split(".")[: len(home.split(".")) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                yield where, target
                for alias in node.names:
                    yield where, f"{target}.{alias.name}"


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# Known, to be removed: these read the settings through the `Resources` in
# the scope's state, for its key; `lowcode.resources` imports `datasources`.
KNOWN = {
    ("lowcode/platform/problems.py", "lowcode.resources"),
    ("lowcode/platform/validation.py", "lowcode.resources"),
}


def platform_violations(src: Path) -> list[str]:
    # The root package itself is allowed: `platform.resolver` walks its
    # `__path__` to find the contexts' handlers (importing none of them).
    return [
        f"{where} imports {name}"
        for where, name in imports_under(src, "lowcode.platform")
        if within(name, "lowcode")
        and name != "lowcode"
        and not within(name, "lowcode.platform")
        and not within(name, "lowcode.settings")
        and not any(where.startswith(f + ":") and within(name, m) for f, m in KNOWN)
    ]


def events_violations(src: Path) -> list[str]:
    return [
        f"{where} imports {name}"
        for where, name in imports_under(src, "lowcode.events")
        if within(name, "lowcode.collab")
    ]


def test_platform_imports_only_platform_and_settings() -> None:
    assert platform_violations(SRC) == []


def test_events_does_not_import_collab() -> None:
    assert events_violations(SRC) == []


@pytest.mark.parametrize(
    "source",
    [
        "from lowcode.collab.hub import Hub",
        "if TYPE_CHECKING:\n    from lowcode.collab.hub import Hub",
        "def f():\n    import lowcode.collab.ws",
        "from lowcode import collab",
        "from ..collab import access",
    ],
)
def test_every_kind_of_import_is_seen(tmp_path: Path, source: str) -> None:
    """The checks above could fail: each way of writing the import is found,
    in `events` (of `collab`) and in `platform` (of a context)."""
    for package in ("events", "platform"):
        (tmp_path / "lowcode" / package).mkdir(parents=True)
        (tmp_path / "lowcode" / package / "__init__.py").write_text("")
        (tmp_path / "lowcode" / package / "bad.py").write_text(source + "\n")
    assert events_violations(tmp_path)
    assert platform_violations(tmp_path)


def test_what_platform_may_import_passes(tmp_path: Path) -> None:
    (tmp_path / "lowcode" / "platform" / "websocket").mkdir(parents=True)
    (tmp_path / "lowcode" / "platform" / "websocket" / "ok.py").write_text(
        "import lowcode\n"
        "from lowcode.settings import Settings\n"
        "from lowcode.platform import jsoncodec\n"
        "from ..metrics import Metrics\n"
        "from . import protocol\n"
    )
    assert platform_violations(tmp_path) == []
