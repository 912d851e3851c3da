"""A revoked session stays revoked even when a request that read it as active
is still in flight while the revocation commits (two API instances, one Redis)."""

from __future__ import annotations

import asyncio
import uuid

from tests.support import assert_problem, running_app

ME = "/api/v1/users/me"
STEP = 0.1  # ample time for an in-process request to reach its next wait


async def test_a_request_in_flight_during_logout_cannot_bring_the_session_back(
    app, client, settings, new_user
):
    user = await new_user()
    # A second instance sharing the session cache, with a single Redis connection:
    # whoever holds it decides when that instance's next Redis command runs.
    async with running_app(
        settings, redis_key_prefix=settings.redis_key_prefix, redis_pool_max=1
    ) as (busy_app, busy_client):
        busy_redis, other_redis = busy_app.res.redis, app.res.redis
        gates = [f"{settings.redis_key_prefix}test-gate:{uuid.uuid4().hex}" for _ in range(2)]
        try:
            first_hold = asyncio.create_task(busy_redis.blpop([gates[0]], timeout=10))
            await asyncio.sleep(STEP)
            # The request waits for the connection to look up the session in the cache…
            in_flight = asyncio.create_task(busy_client.get(ME, headers=user.headers))
            await asyncio.sleep(STEP)
            second_hold = asyncio.create_task(busy_redis.blpop([gates[1]], timeout=10))
            await asyncio.sleep(STEP)
            # …misses, reads the still-active session from Postgres, and waits again
            # for the connection (now held by second_hold) to cache that state.
            await other_redis.lpush(gates[0], "go")
            await first_hold
            await asyncio.sleep(STEP)

            logout = await client.post(
                "/api/v1/auth/logout", json={"refresh_token": user.refresh_token}
            )
            assert logout.status_code == 204

            await other_redis.lpush(gates[1], "go")
            await second_hold
            assert (await in_flight).status_code == 200  # it began before the logout
        finally:
            for gate in gates:
                await other_redis.lpush(gate, "go")
                await other_redis.delete(gate)

        for instance in (client, busy_client):
            response = await instance.get(ME, headers=user.headers)
            assert_problem(response, 401, "SESSION_REVOKED")


async def test_a_role_change_racing_a_revocation_cannot_bring_the_session_back(
    app, client, new_user
):
    """The role change read the user's live sessions before the logout committed
    and updates the cache after it: the session must stay revoked."""
    from lowcode.identity.sessions_cache import session_state, update_cached

    user = await new_user()
    session_id = uuid.UUID(user.session_id)
    logout = await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert logout.status_code == 204
    await update_cached(app.res, uuid.UUID(user.id), "admin", [session_id])
    state = await session_state(app.res, session_id)
    assert state is not None and not state.active
    response = await client.get(ME, headers=user.headers)
    assert_problem(response, 401, "SESSION_REVOKED")
