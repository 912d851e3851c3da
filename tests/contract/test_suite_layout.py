"""The suite's own layout: helpers live in plain modules (`tests/support.py` and the
`support`/`peer`/`processes` modules beside the suites), never in conftest.

pytest loads conftest modules itself, under names of its own choosing; importing one
as a module runs it a second time and ties a test to fixtures' file (pytest's docs
advise against it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def conftest_imports(source: str) -> list[str]:
    """Each import in `source` that reaches a conftest module, as written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            modules = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        if any("conftest" in module.split(".") for module in modules):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from tests.conftest import unique_email",
        "from tests.api.identity.conftest import (\n    login,\n)",
        "from .conftest import Peer",
        "from . import conftest",
        "from tests.api import conftest as fixtures",
        "import conftest",
        "import tests.api.collab.conftest",
        "def later():\n    from tests.api.collab.conftest import open_peer",
    ],
)
def test_every_way_of_importing_a_conftest_is_caught(source):
    assert conftest_imports(source)


def test_importing_support_modules_is_not_flagged():
    assert not conftest_imports("from tests.support import signup\nimport tests.ports")


def test_no_module_of_the_suite_imports_from_a_conftest():
    modules = sorted(TESTS.rglob("*.py"))
    assert len(modules) > 100  # the walk found the suite
    offenders = {
        str(path.relative_to(TESTS.parent)): found
        for path in modules
        if (found := conftest_imports(path.read_text()))
    }
    assert offenders == {}
