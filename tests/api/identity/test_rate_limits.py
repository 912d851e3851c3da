"""Login and registration are rate-limited (429 RATE_LIMITED with Retry-After).

Each test runs its own app with low limits and a Redis key prefix of its own, so
counters never leak between tests or into the session app."""

from __future__ import annotations

from tests.support import (
    assert_problem,
    http_client,
    new_password,
    register,
    running_app,
    unique_email,
)


def assert_rate_limited(response) -> int:
    assert_problem(response, 429, "RATE_LIMITED")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    return retry_after


async def test_the_fourth_login_attempt_for_one_email_within_a_minute_is_rate_limited(settings):
    async with running_app(settings, rate_limit_login_email="3/minute") as (_, client):
        user, password = await register(client)
        for _ in range(3):
            response = await client.post(
                "/api/v1/auth/login", json={"email": user["email"], "password": "wrong password"}
            )
            assert_problem(response, 401, "INVALID_CREDENTIALS")

        fourth = await client.post(
            "/api/v1/auth/login", json={"email": user["email"], "password": password}
        )
        assert_rate_limited(fourth)
        # The limit is per email whatever its letter case…
        upper = await client.post(
            "/api/v1/auth/login", json={"email": user["email"].upper(), "password": password}
        )
        assert_rate_limited(upper)
        # …and other emails from the same address are not affected.
        other = await client.post(
            "/api/v1/auth/login", json={"email": unique_email(), "password": "whatever"}
        )
        assert_problem(other, 401, "INVALID_CREDENTIALS")


async def test_the_fourth_registration_from_one_ip_within_a_minute_is_rate_limited(settings):
    async with running_app(
        settings, client_ip="198.51.100.23", rate_limit_register_ip="3/minute"
    ) as (app, client):
        for _ in range(3):
            await register(client)

        email = unique_email("limited")
        payload = {"email": email, "password": new_password(), "display_name": "Late"}
        fourth = await client.post("/api/v1/auth/register", json=payload)
        assert_rate_limited(fourth)

        # Another address may still register — and the refused email was not created.
        async with http_client(app, "198.51.100.24") as elsewhere:
            created = await elsewhere.post("/api/v1/auth/register", json=payload)
            assert created.status_code == 201, created.text


async def test_login_limits_behind_a_trusted_proxy_count_the_client_not_the_proxy(settings):
    async with running_app(
        settings,
        client_ip="10.9.8.7",
        forwarded_allow_ips="10.9.8.0/24",
        rate_limit_login_ip="3/minute",
    ) as (app, proxy):

        async def attempt(client, forwarded_for: str):
            return await client.post(
                "/api/v1/auth/login",
                json={"email": unique_email(), "password": "whatever"},
                headers={"X-Forwarded-For": forwarded_for},
            )

        for _ in range(3):
            assert_problem(await attempt(proxy, "198.51.100.60"), 401, "INVALID_CREDENTIALS")
        assert_rate_limited(await attempt(proxy, "198.51.100.60"))
        # Another client behind the same proxy has its own budget.
        assert_problem(await attempt(proxy, "198.51.100.61"), 401, "INVALID_CREDENTIALS")

        # An untrusted peer cannot pick its address: it is counted as itself.
        async with http_client(app, "203.0.113.99") as direct:
            for n in range(3):
                response = await attempt(direct, f"198.51.100.{70 + n}")
                assert_problem(response, 401, "INVALID_CREDENTIALS")
            assert_rate_limited(await attempt(direct, "198.51.100.80"))


async def test_ipv6_clients_are_limited_by_their_slash_64(settings):
    async with running_app(settings, rate_limit_login_ip="2/minute") as (app, _):
        for n in range(2):
            async with http_client(app, f"2001:db8:1:2::{n + 1}") as client:
                response = await client.post(
                    "/api/v1/auth/login", json={"email": unique_email(), "password": "x" * 8}
                )
                assert_problem(response, 401, "INVALID_CREDENTIALS")
        async with http_client(app, "2001:db8:1:2:ffff::9") as client:
            response = await client.post(
                "/api/v1/auth/login", json={"email": unique_email(), "password": "x" * 8}
            )
            assert_rate_limited(response)


async def test_successful_logins_do_not_use_up_the_per_email_limit(settings):
    async with running_app(settings, rate_limit_login_email="2/minute") as (_, client):
        user, password = await register(client)
        for _ in range(4):
            response = await client.post(
                "/api/v1/auth/login", json={"email": user["email"], "password": password}
            )
            assert response.status_code == 200, response.text


async def test_wrong_current_passwords_are_limited_per_user(settings):
    async with running_app(settings, rate_limit_login_email="2/minute") as (_, client):
        user, password = await register(client)
        login = await client.post(
            "/api/v1/auth/login", json={"email": user["email"], "password": password}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = {"current_password": "not the password", "new_password": new_password()}
        for _ in range(2):
            wrong = await client.post("/api/v1/auth/password", json=body, headers=headers)
            assert_problem(wrong, 401, "INVALID_CREDENTIALS")
        third = await client.post(
            "/api/v1/auth/password",
            json={"current_password": password, "new_password": new_password()},
            headers=headers,
        )
        assert_rate_limited(third)


async def test_password_hashing_runs_on_its_own_bounded_executor():
    import threading

    from argon2 import PasswordHasher

    from lowcode.identity import passwords

    seen: list[str] = []

    class Spy(PasswordHasher):
        def hash(self, password, *, salt=None):  # type: ignore[no-untyped-def]
            seen.append(threading.current_thread().name)
            return super().hash(password, salt=salt)

    original = passwords._hasher
    passwords._hasher = Spy()
    try:
        await passwords.hash_password("whatever-long")
    finally:
        passwords._hasher = original
    assert seen and seen[0].startswith("argon2")
    assert passwords._executor._max_workers == passwords.HASH_THREADS <= 4
