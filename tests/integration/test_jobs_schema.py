"""The dbmate migration holds exactly the schema pgqueuer declares."""

import asyncpg
from pgqueuer import Queries
from pgqueuer.db import AsyncpgDriver


async def test_the_migrated_schema_is_what_pgqueuer_1_6_declares(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        plan = await Queries(AsyncpgDriver(conn)).plan_upgrade()
    finally:
        await conn.close()
    assert list(plan.statements) == [], plan.statements
