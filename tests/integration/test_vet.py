"""`lowcode sql vet` on the migrated test database: each rule flags what it
should, waivers need a rule and a reason, and every violation is reported at once."""

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from lowcode.codegen.vet import render, vet
from lowcode.settings import PROJECT_ROOT

SQL = """\
-- name: titled(title)
SELECT id FROM pages WHERE title = :title;

-- name: of_workspace(workspace_id, limit)
SELECT id, title FROM pages
 WHERE workspace_id = :workspace_id AND deleted_at IS NULL
 ORDER BY updated_at DESC LIMIT :limit;

-- name: disable_everyone()!
UPDATE users SET disabled = true;

-- name: everything(user_id)^
SELECT * FROM users WHERE id = :user_id;

-- name: add_tick(schedule, tick)^
INSERT INTO job_cron_ticks (schedule, tick) VALUES (:schedule, :tick) RETURNING tick;

-- name: waived(title)
-- @vet-allow seq-scan: a one-off report, run by hand
SELECT id FROM pages WHERE title = :title;

-- name: unexplained(title)
-- @vet-allow seq-scan
SELECT id FROM pages WHERE title = :title;

-- name: ticks_of(job_id)
SELECT schedule FROM job_cron_ticks WHERE job_id = :job_id;
"""


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    folder = tmp_path / "queries" / "demo"
    folder.mkdir(parents=True)
    (folder / "demo.sql").write_text(SQL)
    (tmp_path / "queries" / "vet.toml").write_text(
        '[small-tables]\njob_cron_ticks = "one row per cron tick, pruned daily"\n'
    )
    return tmp_path / "queries"


async def test_violations_are_listed_at_once_with_file_and_line(database_url, queries):
    conn = await asyncpg.connect(database_url)
    try:
        report = await vet(conn, queries)
    finally:
        await conn.close()
    text, ok = render(report)
    assert not ok
    lines = [str(v) for v in report.violations]
    assert lines == [
        "queries/demo/demo.sql:2:16: demo.titled: [seq-scan] scans pages sequentially: no index "
        "serves this filter or join (add one in a migration, or waive with a reason)",
        "queries/demo/demo.sql:10:1: demo.disable_everyone: [missing-where] UPDATE without WHERE "
        "changes every row",
        "queries/demo/demo.sql:10:8: demo.disable_everyone: [seq-scan] scans users sequentially: "
        "no index serves this filter or join (add one in a migration, or waive with a reason)",
        "queries/demo/demo.sql:13:8: demo.everything: [select-star] name the columns: * changes "
        "shape when a migration adds one",
        "queries/demo/demo.sql:15:34: demo.add_tick: [insert-returning] INSERT … RETURNING takes "
        "<! (the house convention), not ^",
        "queries/demo/demo.sql:23:4: demo.unexplained: [vet-allow] say why: "
        "-- @vet-allow seq-scan: <reason>",
        "queries/demo/demo.sql:24:16: demo.unexplained: [seq-scan] scans pages sequentially: no "
        "index serves this filter or join (add one in a migration, or waive with a reason)",
    ]
    # The index-using query, the waived one and the small table's pass.
    assert "of_workspace" not in text and "demo.waived" not in text and "ticks_of" not in text
    assert text.endswith(
        "vet: 7 violation(s) in 8 queries; fix them or waive one with "
        "`-- @vet-allow RULE: reason` in the query's comment"
    )


def test_the_command_exits_1_and_prints_every_violation(queries, pg_admin_dsn):
    env = {
        **os.environ,
        "QUERIES_DIR": str(queries),
        "MIGRATIONS_DIR": str(PROJECT_ROOT / "migrations"),
        "GENERATE_DATABASE_URL": pg_admin_dsn,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "lowcode", "sql", "vet"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("[seq-scan]") == 3 and "[missing-where]" in proc.stderr
