"""The embedded fallbacks `make run` and the tests use on a machine without servers."""

import asyncpg
import redis.asyncio as aioredis

from lowcode.platform.embedded import EmbeddedRedis, start_postgres, stop_postgres


async def test_embedded_redis_starts_answers_and_stops(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    try:
        client = aioredis.from_url(url)
        assert await client.ping() is True
        await client.aclose()
    finally:
        server.stop()
    assert server.proc is None


async def test_embedded_postgres_starts_and_serves_queries(tmp_path):
    dsn, handle = start_postgres(tmp_path / "pg")
    try:
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT 41 + 1") == 42
            assert conn.get_server_version().major >= 16
        finally:
            await conn.close()
    finally:
        stop_postgres(handle)
