from pathlib import Path

from lowcode.platform.migrate import dbmate_url, newest_migration, schema_fingerprint


def test_dbmate_url_uses_socket_and_disables_ssl_locally():
    assert dbmate_url("postgresql://postgres:@/lowcode?host=/tmp/pg") == (
        "postgres://postgres:@/lowcode?socket=%2Ftmp%2Fpg&sslmode=disable"
    )
    assert dbmate_url("postgresql://u:p@db:5432/x?sslmode=require") == (
        "postgres://u:p@db:5432/x?sslmode=require"
    )


def test_newest_migration_ignores_other_files(tmp_path: Path):
    (tmp_path / "20260101000000_a.sql").write_text("")
    (tmp_path / "20261231000000_b.sql").write_text("")
    (tmp_path / "schema.sql").write_text("")
    assert newest_migration(tmp_path) == "20261231000000"


def test_schema_fingerprint_ignores_comments_and_session_settings():
    a = "-- Dumped by pg_dump 15\nSET x = 1;\n\nCREATE TABLE t (id int);\n"
    b = "-- Dumped by pg_dump 16\nSET y = 2;\nCREATE TABLE t (id int);\n\n"
    assert schema_fingerprint(a) == schema_fingerprint(b)
    assert schema_fingerprint(a) != schema_fingerprint("CREATE TABLE t (id bigint);")


def test_dbmate_keeps_tls_for_remote_hosts_and_the_password_off_the_command_line(tmp_path):
    from lowcode.platform.migrate import DBMATE_URL_VARIABLE, dbmate_command

    assert dbmate_url("postgresql://u:p@db.example.com:5432/x") == (
        "postgres://u:p@db.example.com:5432/x"
    )  # dbmate's default: require
    assert "sslmode=disable" in dbmate_url("postgresql://u:p@127.0.0.1:5432/x")
    assert "sslmode=disable" in dbmate_url("postgresql://u:p@localhost/x")
    cmd, env = dbmate_command("postgresql://u:s3cret@db.example.com/x", tmp_path, "up")
    assert not any("s3cret" in part for part in cmd)
    assert "s3cret" in env[DBMATE_URL_VARIABLE]
