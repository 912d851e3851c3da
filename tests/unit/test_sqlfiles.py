"""Locating queries and positions in their files; the migration set comparison."""

from pathlib import Path

import pytest

from lowcode.codegen.rows import table_row_name
from lowcode.platform.db import load_queries
from lowcode.platform.migrate import SchemaState
from lowcode.platform.sqlfiles import QueryErrors, scan

SQL = """\
-- name: first(a)$
SELECT :a;

-- name: list_comments(page_id, limit)
-- @row PageCommentRow
-- Newest first.
SELECT id, body
  FROM page_comments
 WHERE page_id = :page_id AND bdy <> '' LIMIT :limit;
"""


def test_a_position_in_the_rewritten_sql_maps_back_to_the_file(tmp_path: Path):
    folder = tmp_path / "queries" / "pages"
    folder.mkdir(parents=True)
    (folder / "comments.sql").write_text(SQL)
    q = load_queries(tmp_path / "queries")
    source = scan(tmp_path / "queries")[1]
    sql = q.pages.list_comments.sql  # comments dropped, :page_id → $1
    assert "$1" in sql and "Newest" not in sql
    offset = source.offset_of(sql, sql.index("bdy") + 1)
    assert source.position(offset) == (9, 31)
    assert source.shown_path == "queries/pages/comments.sql"
    assert [(a.key, a.value) for a in source.annotations] == [("row", "PageCommentRow")]
    assert source.suffix == "" and source.params == ["page_id", "limit"]


def test_a_name_defined_twice_in_a_folder_is_located(tmp_path: Path):
    folder = tmp_path / "queries" / "pages"
    folder.mkdir(parents=True)
    (folder / "a.sql").write_text("-- name: same()$\nSELECT 1;\n")
    (folder / "b.sql").write_text("\n-- name: same()$\nSELECT 2;\n")
    with pytest.raises(QueryErrors) as err:
        load_queries(tmp_path / "queries")
    assert str(err.value) == (
        "queries/pages/b.sql:2:10: pages.same: query name same is already defined at "
        "queries/pages/a.sql:1 (names are unique per folder)"
    )


def test_table_row_names_are_singular():
    assert table_row_name("page_comments") == "PageCommentRow"
    assert table_row_name("users") == "UserRow"
    assert table_row_name("job_cron_ticks") == "JobCronTickRow"
    assert table_row_name("categories") == "CategoryRow"
    assert table_row_name("pgqueuer_log") == "PgqueuerLogRow"


def test_schema_state_compares_sets_not_the_newest_version():
    files = {"1": "1_a.sql", "2": "2_b.sql", "3": "3_c.sql"}
    late = SchemaState(files, applied={"1", "3"})
    assert late.pending == ["2"] and not late.current
    assert late.problem() == (
        "1 pending migration(s): 2_b.sql (2 older than the applied 3); run `lowcode migrate up`"
    )
    assert SchemaState(files, applied={"1", "2", "3"}).problem() is None
    ahead = SchemaState(files, applied={"1", "2", "3", "4"})
    assert "applied migration(s) 4 are not in this build" in (ahead.problem() or "")
