"""Readiness and `lowcode migrate` agree on pending migrations, including one
older than the newest applied (a branch merged after its migration was written)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from lowcode.platform.migrate import run_dbmate
from lowcode.platform.scratch import create_database, drop_database
from lowcode.settings import PROJECT_ROOT
from tests.support import readiness

LATE = "20261121000350_branch_feature.sql"  # older than 20261121000400_jobs


def migrate(dsn: str, migrations: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, "MIGRATIONS_DIR": str(migrations)}
    return subprocess.run(
        [sys.executable, "-m", "lowcode", "migrate", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def test_an_out_of_order_migration_is_pending_until_migrate_up(
    settings, pg_admin_dsn, tmp_path
):
    migrations = tmp_path / "migrations"
    shutil.copytree(PROJECT_ROOT / "migrations", migrations)
    dsn = await create_database(pg_admin_dsn, "lowcode_late")
    try:
        down = migrate(dsn, migrations, "down")
        assert down.stdout == "nothing to roll back: no migration is applied\n", down.stderr
        run_dbmate(dsn, PROJECT_ROOT / "migrations", "up")
        (migrations / LATE).write_text(
            "-- migrate:up\nCREATE TABLE branch_feature (id int PRIMARY KEY);\n"
            "-- migrate:down\nDROP TABLE branch_feature;\n"
        )
        app_settings = settings.model_copy(
            update={"database_url": dsn, "migrations_dir": migrations}
        )

        response = await readiness(app_settings)
        assert response.status_code == 503
        schema = response.json()["checks"]["schema"]
        assert schema["status"] == "fail"
        assert LATE in schema["error"] and "older than the applied 2026" in schema["error"]

        status = migrate(dsn, migrations, "status")
        assert status.returncode == 0, status.stderr
        assert f"[ ] {LATE}" in status.stdout
        assert f"1 pending migration(s): {LATE}" in status.stdout

        up = migrate(dsn, migrations, "up")
        assert up.returncode == 0, up.stderr
        assert f"Applied: {LATE}" in up.stdout and "applied 1 migration(s)" in up.stdout

        assert (await readiness(app_settings)).status_code == 200
        again = migrate(dsn, migrations, "up")
        assert again.stdout.startswith("nothing to apply: all ")
        status = migrate(dsn, migrations, "status", "--exit-code")
        assert status.returncode == 0 and "schema is current" in status.stdout
    finally:
        await drop_database(pg_admin_dsn, dsn)


def test_migrate_new_writes_the_template_into_the_migrations_folder(tmp_path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "29991231235959_future.sql").write_text("-- migrate:up\n-- migrate:down\n")
    proc = migrate("postgresql://unused/x", migrations, "new", "page_comments")
    assert proc.returncode == 0, proc.stderr
    created = migrations / "29991231235960_page_comments.sql"
    assert not created.exists()  # a version is a timestamp: one second after the newest
    [path] = [p for p in migrations.iterdir() if p.name.endswith("_page_comments.sql")]
    assert path.name == "30000101000000_page_comments.sql"
    text = path.read_text()
    assert "-- migrate:up" in text and "-- migrate:down" in text
    assert f"created {path}" in proc.stdout
    bad = migrate("postgresql://unused/x", migrations, "new", "Page Comments")
    assert bad.returncode == 2 and "use lower-case letters" in bad.stderr
