"""Database errors are translated once, next to the queries (DESIGN; issue 17).

The driver's exception classes appear only where errors are translated: the
query adapter (`platform/db.py`), the outage classifier (`platform/outage.py`)
and the `errors.py` of each context (constraint → AppError maps, and what a
user datasource's errors mean). Everywhere else code catches AppErrors, or the
tuples and translation functions those modules export.
"""

import ast
from pathlib import Path

from lowcode.settings import PROJECT_ROOT

SRC = PROJECT_ROOT / "src"
ALLOWED = {Path("lowcode/platform/db.py"), Path("lowcode/platform/outage.py")}


def _allowed(relative: Path) -> bool:
    return relative.name == "errors.py" or relative in ALLOWED


def _driver_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names bound to the asyncpg package or its submodules, names imported
    from it): `import asyncpg as pg`, `from asyncpg import UniqueViolationError`."""
    modules, imported = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "asyncpg" or a.name.startswith("asyncpg."):
                    modules.add((a.asname or a.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "asyncpg":
            for a in node.names:
                if a.name == "exceptions":
                    modules.add(a.asname or a.name)
                else:
                    imported.add(a.asname or a.name)
    return modules, imported


def _root(node: ast.expr) -> tuple[str | None, list[str]]:
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    return (node.id if isinstance(node, ast.Name) else None), attrs


def violations_in(source: str, relative: Path) -> list[str]:
    """Each `except` naming the driver, and each other use of one of its
    exception classes (a tuple, an isinstance), as `path:line: text`."""
    tree = ast.parse(source)
    modules, imported = _driver_names(tree)
    found: list[str] = []

    def is_driver_error(node: ast.expr) -> bool:
        root, attrs = _root(node)
        if root in modules and attrs:
            return any(a == "exceptions" or a.endswith(("Error", "Exception")) for a in attrs)
        return isinstance(node, ast.Name) and node.id in imported

    caught: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = [n for n in ast.walk(node.type) if isinstance(n, ast.Attribute | ast.Name)]
            if any(
                _root(n)[0] in modules or (isinstance(n, ast.Name) and n.id in imported)
                for n in names
            ):
                found.append(f"{relative}:{node.lineno}: except {ast.unparse(node.type)}")
                caught.update(id(n) for n in names)
    # Breadth first: an attribute chain is reported once, at its outermost node.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute | ast.Name)
            and id(node) not in caught
            and is_driver_error(node)
        ):
            found.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
            caught.update(id(n) for n in ast.walk(node))
    return found


def test_driver_errors_are_named_only_where_they_are_translated():
    found: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC)
        if not _allowed(relative):
            found.extend(violations_in(path.read_text(), relative))
    assert found == []


def test_the_scan_sees_every_spelling_of_a_driver_error():
    """The check above must be able to fail: each of these is a violation."""
    source = """
import asyncpg
import asyncpg as pg
from asyncpg import UniqueViolationError
from asyncpg import exceptions as pgx

ERRORS = (asyncpg.PostgresError, OSError)

async def f(conn):
    try:
        await conn.execute("")
    except asyncpg.UniqueViolationError:
        pass
    except (OSError, pg.InterfaceError):
        pass
    except UniqueViolationError:
        pass
    except pgx.QueryCanceledError:
        pass
    if isinstance(conn, asyncpg.exceptions.PostgresConnectionError):
        pass
    return asyncpg.Connection
"""
    lines = sorted({int(v.split(":")[1]) for v in violations_in(source, Path("x.py"))})
    assert lines == [7, 12, 14, 16, 18, 20]


def test_errors_modules_and_the_adapter_may_name_them():
    assert _allowed(Path("lowcode/datasets/errors.py"))
    assert _allowed(Path("lowcode/platform/db.py"))
    assert not _allowed(Path("lowcode/pages/service.py"))
