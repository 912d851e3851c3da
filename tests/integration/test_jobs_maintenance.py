"""The built-in cron work against real data: expired-session cleanup and
page-op compaction (pages made and edited through the API)."""

import uuid
from datetime import UTC, datetime, timedelta

from lowcode.identity.jobs import CLEANUP_SESSIONS
from lowcode.jobs import CronTick, JobContext
from lowcode.jobs.maintenance import PRUNE_HISTORY
from lowcode.pages.jobs import COMPACT_PAGE_OPS
from lowcode.platform.db import transaction
from tests.support import make_page, make_workspace, patch_page, prop, signup


async def edit_in_turn(client, owner, page, count, op_prefix, key_of) -> int:
    """`count` patches one after another through the API (props/<key_of(i)> = i);
    returns the page's version after the last."""
    version = page["version"]
    for i in range(count):
        response = await patch_page(
            client,
            owner,
            page,
            prop(page, key_of(i), i),
            base_version=version,
            op_id=f"{op_prefix}-{i}",
        )
        assert response.status_code == 200, response.text
        version = response.json()["version"]
    return version


def run_args(res, ep):
    ctx = JobContext(res, 0, ep.name, 1, None)
    return ctx, CronTick(schedule=ep.name, tick=datetime.now(UTC))


async def test_session_cleanup_deletes_only_sessions_that_ended_long_ago(res):
    q = res.queries.identity
    now = datetime.now(UTC)
    long_ago = now - timedelta(seconds=res.settings.session_retention_s + 3600)
    async with transaction(res.pool) as conn:
        user = await q.insert_user(
            conn,
            email=f"sessions-{uuid.uuid4().hex[:8]}@example.com",
            password_hash="x",
            display_name="S",
            role="user",
        )
        live = await q.insert_session(
            conn, user_id=user.id, user_agent=None, ip=None, expires_at=now + timedelta(days=1)
        )
        just_expired = await q.insert_session(
            conn, user_id=user.id, user_agent=None, ip=None, expires_at=now - timedelta(hours=1)
        )
        long_expired = await q.insert_session(
            conn, user_id=user.id, user_agent=None, ip=None, expires_at=long_ago
        )
        long_revoked = await q.insert_session(
            conn, user_id=user.id, user_agent=None, ip=None, expires_at=now + timedelta(days=1)
        )
        await conn.execute(
            "UPDATE sessions SET revoked_at = $2 WHERE id = $1", long_revoked, long_ago
        )
    await CLEANUP_SESSIONS.handler(*run_args(res, CLEANUP_SESSIONS))
    async with res.pool.acquire() as conn:
        left = {
            r["id"] for r in await conn.fetch("SELECT id FROM sessions WHERE user_id = $1", user.id)
        }
    assert left == {live, just_expired}
    assert long_expired not in left and long_revoked not in left


async def test_compaction_drops_old_ops_below_the_kept_revisions_and_reads_stay_the_same(
    res, client
):
    owner = await signup(client, "compactor")
    page = await make_page(client, owner, await make_workspace(client, owner))
    url = f"/api/v1/pages/{page['id']}"
    version = await edit_in_turn(client, owner, page, 160, "op", lambda i: f"p{i % 7}")
    before = (await client.get(url, headers=owner.headers)).json()
    async with res.pool.acquire() as conn:
        revisions = [
            r["version"]
            for r in await conn.fetch(
                "SELECT version FROM page_revisions WHERE page_id = $1 ORDER BY version DESC",
                uuid.UUID(page["id"]),
            )
        ]
        await conn.execute(
            "UPDATE page_ops SET at = now() - interval '30 days' WHERE page_id = $1",
            uuid.UUID(page["id"]),
        )
    keep = res.settings.page_ops_keep_revisions
    assert len(revisions) > keep, revisions
    horizon = revisions[keep - 1]

    await COMPACT_PAGE_OPS.handler(*run_args(res, COMPACT_PAGE_OPS))

    async with res.pool.acquire() as conn:
        versions = [
            r["version"]
            for r in await conn.fetch(
                "SELECT version FROM page_ops WHERE page_id = $1 ORDER BY version",
                uuid.UUID(page["id"]),
            )
        ]
    assert versions == list(range(horizon + 1, version + 1))
    after = (await client.get(url, headers=owner.headers)).json()
    assert after["schema"] == before["schema"] and after["version"] == before["version"]
    oldest_kept = await client.get(f"{url}/revisions/{horizon}", headers=owner.headers)
    assert oldest_kept.status_code == 200


async def test_recent_ops_are_kept_whatever_the_revisions(res, client):
    owner = await signup(client, "recent")
    page = await make_page(client, owner, await make_workspace(client, owner))
    version = await edit_in_turn(client, owner, page, 120, "r", lambda i: "x")
    await COMPACT_PAGE_OPS.handler(*run_args(res, COMPACT_PAGE_OPS))
    async with res.pool.acquire() as conn:
        count = await conn.fetchval(
            "SELECT count(*) FROM page_ops WHERE page_id = $1", uuid.UUID(page["id"])
        )
    assert count == version - 1


async def test_history_pruning_drops_job_log_rows_past_retention(res):
    async with res.pool.acquire() as conn:
        old = await conn.fetchval(
            "INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority, created)"
            " VALUES (424242, 'successful', 'tests.old', 0, now() - interval '60 days')"
            " RETURNING id"
        )
        recent = await conn.fetchval(
            "INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)"
            " VALUES (424243, 'successful', 'tests.recent', 0) RETURNING id"
        )
    await PRUNE_HISTORY.handler(*run_args(res, PRUNE_HISTORY))
    async with res.pool.acquire() as conn:
        left = {
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM pgqueuer_log WHERE id = ANY($1::bigint[])", [old, recent]
            )
        }
    assert left == {recent}
