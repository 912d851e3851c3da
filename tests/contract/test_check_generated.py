"""`make check-generated` catches hand edits and contracts changed without regenerating."""

import shutil
from pathlib import Path

from lowcode.codegen.__main__ import compare, generate_all
from lowcode.settings import PROJECT_ROOT


def test_fresh_output_matches_the_tree_and_edits_are_detected(tmp_path: Path):
    fresh = tmp_path / "fresh"
    generate_all(fresh, tmp_path)
    assert compare(fresh) == []

    tree = tmp_path / "tree"
    shutil.copytree(PROJECT_ROOT / "generated", tree / "generated")
    (tree / "migrations").mkdir()
    shutil.copy(PROJECT_ROOT / "migrations/schema.sql", tree / "migrations/schema.sql")
    assert compare(fresh, tree) == []

    hand_edited = tree / "generated/ts/api.d.ts"
    hand_edited.write_text(hand_edited.read_text() + "\n// tweak\n")
    frames = tree / "generated/ts/collab.d.ts"
    frames.write_text(frames.read_text().replace('"ack"', '"acknowledge"'))
    (tree / "generated/python/lowcode_gen/extra.py").write_text("x = 1\n")
    schema = tree / "migrations/schema.sql"
    schema.write_text(schema.read_text().replace("display_name text", "display_name varchar"))
    problems = "\n".join(compare(fresh, tree))
    assert "generated/ts/api.d.ts differs" in problems
    assert "generated/ts/collab.d.ts differs" in problems
    assert "generated/python/lowcode_gen/extra.py is not produced by the generator" in problems
    assert "migrations/schema.sql is stale" in problems
