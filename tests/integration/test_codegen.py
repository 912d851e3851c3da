"""Query interface generation against a real migrated database."""

from pathlib import Path

import pytest

from lowcode.codegen.queries import generate
from lowcode.platform.db import load_queries
from lowcode.platform.sqlfiles import QueryError, QueryErrors


def write(tmp_path: Path, context: str, text: str) -> Path:
    folder = tmp_path / "queries" / context
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{context}.sql").write_text(text)
    return tmp_path / "queries"


async def test_a_query_that_does_not_prepare_is_one_located_line(database_url, tmp_path: Path):
    queries = write(
        tmp_path,
        "broken",
        "-- name: get_ghost(ghost_id)^\nSELECT id FROM ghosts WHERE id = :ghost_id;\n",
    )
    with pytest.raises(QueryErrors) as err:
        await generate(database_url, queries, tmp_path / "out", tmp_path)
    assert str(err.value) == (
        'queries/broken/broken.sql:2:16: broken.get_ghost: relation "ghosts" does not exist'
    )
    assert not (tmp_path / "out").exists()


async def test_every_broken_query_is_reported_at_once(database_url, tmp_path: Path):
    queries = write(
        tmp_path,
        "demo",
        "-- name: one(user_id)$\nSELECT id, email FROM users WHERE id = :user_id;\n\n"
        "-- name: two(user_id)!\n"
        "UPDATE users SET disabled = true WHERE id = :user_id RETURNING id;\n\n"
        "-- name: three(user_id)\nUPDATE users SET disabled = true WHERE id = :user_id;\n\n"
        "-- name: four(user_id)^\nSELECT nope FROM users WHERE id = :user_id;\n",
    )
    with pytest.raises(QueryErrors) as err:
        await generate(database_url, queries, tmp_path / "out", tmp_path)
    lines = str(err.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "demo.one",
        "demo.two",
        "demo.three",
        "demo.four",
    ]
    assert lines[0].startswith("queries/demo/demo.sql:1:22: demo.one: suffix $ (one value) needs")
    assert "suffix ! discards the 1 column (id)" in lines[1]
    assert "without a suffix a query returns rows" in lines[2]
    assert lines[3].startswith(
        'queries/demo/demo.sql:11:8: demo.four: column "nope" does not exist'
    )


async def test_generated_module_types_parameters_and_columns(database_url, tmp_path: Path):
    queries = write(
        tmp_path,
        "demo",
        "-- name: find_users(email, limit)\n"
        "SELECT id, email, display_name, created_at FROM users "
        "WHERE lower(email) = lower(:email) LIMIT :limit;\n\n"
        "-- name: rename_user(user_id, display_name)!\n"
        "UPDATE users SET display_name = :display_name WHERE id = :user_id;\n",
    )
    await generate(database_url, queries, tmp_path / "out", tmp_path)
    text = (tmp_path / "out" / "demo.py").read_text()
    assert "class FindUsersRow:" in text
    assert "    created_at: datetime.datetime\n" in text
    assert "def find_users(self, conn: asyncpg.Connection, *, email: str, limit: int)" in text
    assert "-> AsyncIterator[FindUsersRow]" in text
    assert (
        "async def rename_user(self, conn: asyncpg.Connection, *, display_name: str, "
        "user_id: uuid.UUID) -> int" in text
    )


async def test_single_row_insert_returning_is_not_optional(database_url, tmp_path: Path):
    queries = write(
        tmp_path,
        "demo",
        "-- name: add_tick(schedule, tick)<!\n"
        "INSERT INTO job_cron_ticks (schedule, tick) VALUES (:schedule, :tick)\n"
        "RETURNING schedule, tick;\n\n"
        "-- name: add_tick_id(schedule, tick)<!\n"
        "INSERT INTO job_cron_ticks (schedule, tick) VALUES (:schedule, :tick) RETURNING tick;\n\n"
        "-- name: claim_tick(schedule, tick)<!\n"
        "INSERT INTO job_cron_ticks (schedule, tick) VALUES (:schedule, :tick)\n"
        "ON CONFLICT (schedule, tick) DO NOTHING RETURNING true;\n\n"
        "-- name: add_tick_selected(schedule, tick)<!\n"
        "INSERT INTO job_cron_ticks (schedule, tick) SELECT :schedule, :tick\n"
        "RETURNING created_at;\n\n"
        "-- name: add_tick_if(schedule, tick)<!\n"
        "INSERT INTO job_cron_ticks (schedule, tick) SELECT :schedule, :tick\n"
        " WHERE :tick > now() RETURNING tick;\n",
    )
    await generate(database_url, queries, tmp_path / "out", tmp_path)
    text = (tmp_path / "out" / "demo.py").read_text()
    assert "tick: datetime.datetime) -> AddTickRow: ..." in text
    # One column comes back as its value.
    assert "tick: datetime.datetime) -> datetime.datetime: ..." in text
    # ON CONFLICT DO NOTHING may insert nothing.
    assert "tick: datetime.datetime) -> bool | None: ..." in text
    # A SELECT of expressions alone is one row; with a WHERE it may be none.
    signature = "(self, conn: asyncpg.Connection, *, schedule: str, tick: datetime.datetime)"
    assert f"add_tick_selected{signature} -> datetime.datetime: ..." in text
    assert f"add_tick_if{signature} -> datetime.datetime | None: ..." in text


async def test_shapes_share_a_row_type_by_table_or_by_name(database_url, tmp_path: Path):
    queries = write(
        tmp_path,
        "demo",
        "-- name: tick(schedule)^\n"
        "SELECT schedule, tick, job_id, created_at\n"
        "  FROM job_cron_ticks WHERE schedule = :schedule;\n\n"
        "-- name: named_a(user_id)^\n-- @row UserNameRow\n"
        "SELECT id, display_name FROM users WHERE id = :user_id;\n\n"
        "-- name: named_b(limit)\n-- @row UserNameRow\n"
        "SELECT id, display_name FROM users ORDER BY id LIMIT :limit;\n",
    )
    await generate(database_url, queries, tmp_path / "out", tmp_path)
    rows = (tmp_path / "out" / "_rows.py").read_text()
    text = (tmp_path / "out" / "demo.py").read_text()
    assert "class JobCronTickRow:" in rows and "class UserNameRow:" in rows
    assert "A row of `demo.named_a`, `demo.named_b`." in rows
    assert "from lowcode_gen.queries._rows import UserNameRow as UserNameRow" in text
    assert "NamedARow = UserNameRow\nNamedBRow = UserNameRow\nTickRow = JobCronTickRow" in text
    assert "-> AsyncIterator[UserNameRow]: ..." in text
    assert "class NamedARow" not in text


async def test_one_row_name_for_two_shapes_is_an_error(database_url, tmp_path: Path):
    queries = write(
        tmp_path,
        "demo",
        "-- name: named_a(user_id)^\n-- @row UserNameRow\n"
        "SELECT id, display_name FROM users WHERE id = :user_id;\n\n"
        "-- name: named_b(user_id)^\n-- @row UserNameRow\n"
        "SELECT id, email FROM users WHERE id = :user_id;\n",
    )
    with pytest.raises(QueryErrors) as err:
        await generate(database_url, queries, tmp_path / "out", tmp_path)
    assert str(err.value) == (
        "queries/demo/demo.sql:6:4: demo.named_b: @row UserNameRow: this shape differs from "
        "demo.named_a (queries/demo/demo.sql:1): columns (id, email) vs (id, display_name)"
    )


def test_the_app_loads_query_files_with_the_same_one_line_errors(tmp_path: Path):
    queries = write(tmp_path, "demo", "-- name: count_all$\nSELECT count(*) FROM users;\n")
    with pytest.raises(QueryError) as err:
        load_queries(queries)
    assert str(err.value) == (
        "queries/demo/demo.sql:1:19: demo.count_all: the name line needs a parameter list: "
        "count_all(a, b)$, or count_all()$ when the query takes none"
    )
