"""`make generate` on a broken contract: exactly one `file:line:col: …` line on
stderr per problem, no traceback, exit 1, and the tree left as it was.

Each case breaks a copy of the repository's contracts and runs the generator
on it as `make generate` does (`python -m lowcode.codegen`, in its own process).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lowcode.settings import PROJECT_ROOT

CONTRACTS = ("api", "queries", "migrations", "proto", "generated")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, pg_admin_dsn: str) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("tree")
    for name in CONTRACTS:
        shutil.copytree(
            PROJECT_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    # betterproto2 formats its output with the project's line length.
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    yield root


def digest(root: Path) -> str:
    h = hashlib.sha1()
    for path in sorted([*root.joinpath("generated").rglob("*"), root / "migrations/schema.sql"]):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return h.hexdigest()


def generate(root: Path, admin_dsn: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GENERATE_DATABASE_URL": admin_dsn}
    return subprocess.run(
        [sys.executable, "-m", "lowcode.codegen", "--root", str(root)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def broken(tree: Path, pg_admin_dsn: str):
    """Apply edits to the tree, generate, return (stderr lines, exit code); the
    edits are undone afterwards and the tree must be untouched by generation."""
    saved: dict[Path, str | None] = {}

    def run(edits: dict[str, str]) -> tuple[list[str], int]:
        for rel, text in edits.items():
            path = tree / rel
            saved.setdefault(path, path.read_text() if path.exists() else None)
            path.write_text(text)
        before = digest(tree)
        proc = generate(tree, pg_admin_dsn)
        assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
        assert digest(tree) == before, "generation changed the tree"
        return proc.stderr.strip().splitlines(), proc.returncode

    yield run
    for path, text in saved.items():
        if text is None:
            path.unlink()
        else:
            path.write_text(text)


def edit(tree: Path, rel: str, old: str, new: str) -> dict[str, str]:
    text = (tree / rel).read_text()
    assert old in text, old
    return {rel: text.replace(old, new, 1)}


def test_a_prepare_error_points_at_line_and_column_after_rewritten_parameters(broken):
    sql = (
        "-- name: find_titled(workspace_id, title)\n"
        "-- Pages of a workspace with a title.\n"
        "SELECT id\n"
        "  FROM pages\n"
        " WHERE workspace_id = :workspace_id AND titel = :title;\n"
    )
    lines, code = broken({"queries/pages/broken.sql": sql})
    assert code == 1
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r'queries/pages/broken\.sql:5:41: pages\.find_titled: column "titel" does not exist.*',
        lines[0],
    ), lines[0]


PARAMETER_MISMATCHES = {
    "used but not declared": (
        "count_revisions()$",
        "queries/pages/revisions.sql:15:53: pages.count_revisions: parameter :page_id is used "
        "in the SQL but not declared in count_revisions()",
    ),
    "declared but not used": (
        "count_revisions(page_id, extra)$",
        "queries/pages/revisions.sql:14:35: pages.count_revisions: parameter extra is declared "
        "in count_revisions(page_id, extra) but the SQL does not use it",
    ),
    "no parameter list": (
        "count_revisions$",
        "queries/pages/revisions.sql:14:25: pages.count_revisions: the name line needs a "
        "parameter list: count_revisions(a, b)$, or count_revisions()$ when the query takes none",
    ),
}


@pytest.mark.parametrize("case", PARAMETER_MISMATCHES)
def test_a_parameter_list_that_does_not_match_the_sql(broken, tree, case):
    name_line, expected = PARAMETER_MISMATCHES[case]
    lines, code = broken(
        edit(tree, "queries/pages/revisions.sql", "count_revisions(page_id)$", name_line)
    )
    assert code == 1
    assert lines == [expected]


def test_a_suffix_that_does_not_fit_the_columns(broken, tree):
    lines, code = broken(
        edit(
            tree,
            "queries/pages/revisions.sql",
            "list_revisions(page_id, limit, offset)\n",
            "list_revisions(page_id, limit, offset)$\n",
        )
    )
    assert code == 1
    assert lines == [
        "queries/pages/revisions.sql:7:48: pages.list_revisions: suffix $ (one value) needs "
        "exactly one column, the statement returns 4 columns (version, reason, created_by, "
        "created_at); use ^ for one row or no suffix for rows"
    ]


def test_a_duplicate_name_in_one_folder(broken):
    sql = (
        "-- name: count_pages(workspace_id)$\n"
        "SELECT count(*) FROM pages WHERE workspace_id = :workspace_id;\n"
    )
    lines, code = broken({"queries/pages/zz_more.sql": sql})
    assert code == 1
    assert len(lines) == 1
    assert re.fullmatch(
        r"queries/pages/zz_more\.sql:1:10: pages\.count_pages: query name count_pages is "
        r"already defined at queries/pages/pages\.sql:\d+ \(names are unique per folder\)",
        lines[0],
    ), lines[0]


def test_an_operation_id_without_a_handler(broken, tree):
    # The operation's own id (six spaces in), not a response link naming it.
    declared = "\n      operationId: getPage\n"
    spec = (tree / "api/openapi/openapi.yaml").read_text()
    at = spec.index(declared) + len("\n      operationId: ")
    line = spec.count("\n", 0, at) + 1
    col = at - spec.rfind("\n", 0, at)
    lines, code = broken(
        edit(tree, "api/openapi/openapi.yaml", declared, declared.replace("getPage", "getPagez"))
    )
    assert code == 1
    assert lines == [
        f"api/openapi/openapi.yaml:{line}:{col}: operationId getPagez: no async function "
        "get_pagez in any lowcode.<context>.handlers module"
    ]


def test_a_clean_tree_generates_nothing_new(tree, pg_admin_dsn):
    before = digest(tree)
    proc = generate(tree, pg_admin_dsn)
    assert proc.returncode == 0, proc.stderr
    assert "nothing changed" in proc.stdout
    assert digest(tree) == before
