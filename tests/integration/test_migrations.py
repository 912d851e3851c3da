"""dbmate migrations apply, roll back and re-apply cleanly on a fresh database."""

import asyncpg

from lowcode.platform.migrate import applied_version, newest_migration, run_dbmate
from lowcode.platform.scratch import create_database, drop_database
from lowcode.settings import PROJECT_ROOT

MIGRATIONS = PROJECT_ROOT / "migrations"


async def test_every_migration_goes_down_and_up_again(pg_admin_dsn):
    dsn = await create_database(pg_admin_dsn, "lowcode_mig")
    try:
        run_dbmate(dsn, MIGRATIONS, "up")
        conn = await asyncpg.connect(dsn)
        try:
            assert await applied_version(conn) == newest_migration(MIGRATIONS)
            count = len(list(MIGRATIONS.glob("2*.sql")))
            for _ in range(count):
                run_dbmate(dsn, MIGRATIONS, "down")
            assert await applied_version(conn) is None
            run_dbmate(dsn, MIGRATIONS, "up")
            assert await applied_version(conn) == newest_migration(MIGRATIONS)
        finally:
            await conn.close()
        assert "[X]" in run_dbmate(dsn, MIGRATIONS, "status")
    finally:
        await drop_database(pg_admin_dsn, dsn)
