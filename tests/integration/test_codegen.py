"""Query interface generation against a real migrated database."""

from pathlib import Path

import pytest

from lowcode.codegen.queries import GenerationError, generate


async def test_a_query_that_does_not_prepare_names_file_query_and_error(
    database_url, tmp_path: Path
):
    queries = tmp_path / "queries" / "broken"
    queries.mkdir(parents=True)
    (queries / "bad.sql").write_text(
        "-- name: get_ghost(ghost_id)^\nSELECT id FROM ghosts WHERE id = :ghost_id;\n"
    )
    with pytest.raises(GenerationError) as err:
        await generate(database_url, tmp_path / "queries", tmp_path / "out", tmp_path)
    message = str(err.value)
    assert "bad.sql" in message
    assert "broken.get_ghost" in message
    assert 'relation "ghosts" does not exist' in message


async def test_generated_module_types_parameters_and_columns(database_url, tmp_path: Path):
    queries = tmp_path / "queries" / "demo"
    queries.mkdir(parents=True)
    (queries / "demo.sql").write_text(
        "-- name: find_users(email, limit)\n"
        "SELECT id, email, display_name, created_at FROM users "
        "WHERE lower(email) = lower(:email) LIMIT :limit;\n\n"
        "-- name: rename_user(user_id, display_name)!\n"
        "UPDATE users SET display_name = :display_name WHERE id = :user_id;\n"
    )
    await generate(database_url, tmp_path / "queries", tmp_path / "out", tmp_path)
    text = (tmp_path / "out" / "demo.py").read_text()
    assert "class FindUsersRow:" in text
    assert "    created_at: datetime.datetime\n" in text
    assert "def find_users(self, conn: asyncpg.Connection, *, email: str, limit: int)" in text
    assert "-> AsyncIterator[FindUsersRow]" in text
    assert (
        "async def rename_user(self, conn: asyncpg.Connection, *, display_name: str, "
        "user_id: uuid.UUID) -> int" in text
    )
