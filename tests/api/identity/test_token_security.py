"""Access and refresh tokens: every way a token can be wrong is a 401 with its code."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.api.identity.support import access_claims, b64url, decode_unverified, forge_hs256
from tests.support import assert_problem, bearer, login_again, running_app, signup

ME = "/api/v1/users/me"


def unsigned_token(claims: dict, header: dict | None = None) -> str:
    head = header or {"alg": "none", "typ": "JWT"}
    return f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}."


def hs256_token(key: bytes, claims: dict, **header) -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def assert_unauthenticated(response, code: str) -> None:
    assert_problem(response, 401, code)
    assert response.headers["www-authenticate"].startswith("Bearer")


# --- the shape of the credentials -------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no-header", "basic-auth"],
)
async def test_a_request_without_a_bearer_token_is_unauthorized(client, headers):
    response = await client.get(ME, headers=headers)
    assert_unauthenticated(response, "UNAUTHORIZED")


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "e30.e30.", "ünïcödé"])
async def test_a_malformed_token_is_token_invalid(client, token):
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}".encode()})
    assert_unauthenticated(response, "TOKEN_INVALID")


async def test_a_correctly_forged_token_is_accepted_so_the_rejections_below_mean_something(
    client, settings, new_user
):
    user = await new_user()
    response = await client.get(ME, headers=bearer(forge_hs256(settings, user)))
    assert response.status_code == 200 and response.json()["id"] == user.id


async def test_an_alg_none_token_with_valid_claims_is_token_invalid(client, settings, new_user):
    user = await new_user()
    token = unsigned_token(access_claims(settings, user))
    assert_unauthenticated(await client.get(ME, headers=bearer(token)), "TOKEN_INVALID")


async def test_a_token_signed_with_another_secret_is_token_invalid(client, settings, new_user):
    user = await new_user()
    token = jwt.encode(access_claims(settings, user), "x" * 48, algorithm="HS256")
    assert_unauthenticated(await client.get(ME, headers=bearer(token)), "TOKEN_INVALID")


async def test_an_expired_token_is_token_expired(client, settings, new_user):
    user = await new_user()
    now = int(time.time())
    token = forge_hs256(settings, user, iat=now - 1000, exp=now - settings.jwt_leeway_s - 60)
    assert_unauthenticated(await client.get(ME, headers=bearer(token)), "TOKEN_EXPIRED")


async def test_a_token_expired_by_less_than_the_leeway_is_still_accepted(
    client, settings, new_user
):
    user = await new_user()
    now = int(time.time())
    token = forge_hs256(settings, user, iat=now - 900, exp=now - settings.jwt_leeway_s // 3)
    assert (await client.get(ME, headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"jti": None},
        {"sid": None},
        {"sub": "not-a-uuid"},
    ],
    ids=["wrong-iss", "wrong-aud", "no-jti", "no-sid", "bad-sub"],
)
async def test_a_token_with_wrong_or_missing_claims_is_token_invalid(
    client, settings, new_user, overrides
):
    user = await new_user()
    token = forge_hs256(settings, user, **overrides)
    assert_unauthenticated(await client.get(ME, headers=bearer(token)), "TOKEN_INVALID")


async def test_a_tampered_payload_is_token_invalid(client, new_user):
    user = await new_user()
    head, payload, signature = user.access_token.split(".")
    middle = len(payload) // 2
    swapped = "A" if payload[middle] != "A" else "B"
    tampered = f"{head}.{payload[:middle]}{swapped}{payload[middle + 1 :]}.{signature}"
    assert_unauthenticated(await client.get(ME, headers=bearer(tampered)), "TOKEN_INVALID")
    assert (await client.get(ME, headers=user.headers)).status_code == 200


async def test_a_token_naming_someone_elses_session_is_token_invalid(client, settings, new_user):
    me, other = await new_user(), await new_user()
    token = forge_hs256(settings, me, sid=other.session_id)
    assert_unauthenticated(await client.get(ME, headers=bearer(token)), "TOKEN_INVALID")


async def test_a_token_of_a_session_that_never_existed_is_token_invalid(client, settings, new_user):
    user = await new_user()
    token = forge_hs256(settings, user, sid=str(uuid.uuid4()))
    assert_unauthenticated(await client.get(ME, headers=bearer(token)), "TOKEN_INVALID")


async def test_an_admin_role_claim_in_the_token_grants_nothing(client, settings, new_user):
    user = await new_user()
    token = forge_hs256(settings, user, role="admin")
    assert_problem(await client.get("/api/v1/users", headers=bearer(token)), 403, "FORBIDDEN")


# --- the state behind the token ---------------------------------------------


async def test_a_token_of_a_logged_out_session_is_session_revoked(client, new_user):
    user = await new_user()
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert_unauthenticated(await client.get(ME, headers=user.headers), "SESSION_REVOKED")


async def test_a_token_of_a_revoked_session_is_session_revoked(client, new_user):
    user = await new_user()
    other = await login_again(client, user)
    assert (await client.get(ME, headers=other.headers)).status_code == 200
    revoke = await client.delete(f"/api/v1/auth/sessions/{other.session_id}", headers=user.headers)
    assert revoke.status_code == 204
    assert_unauthenticated(await client.get(ME, headers=other.headers), "SESSION_REVOKED")


async def test_a_token_of_a_disabled_user_is_session_revoked(client, new_user, new_admin):
    admin, user = await new_admin(), await new_user()
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    disable = await client.patch(
        f"/api/v1/users/{user.id}", json={"disabled": True}, headers=admin.headers
    )
    assert disable.status_code == 200
    assert_unauthenticated(await client.get(ME, headers=user.headers), "SESSION_REVOKED")


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(
    client, new_user, age_rotation
):
    user = await new_user()
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text
    newest = first.json()
    await age_rotation(user.refresh_token)  # reused after the reuse interval

    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_unauthenticated(reuse, "SESSION_REVOKED")

    successor = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": newest["refresh_token"]}
    )
    assert_unauthenticated(successor, "SESSION_REVOKED")
    for access in (newest["access_token"], user.access_token):
        assert_unauthenticated(await client.get(ME, headers=bearer(access)), "SESSION_REVOKED")


async def test_refresh_token_reuse_leaves_the_users_other_sessions_alone(
    client, new_user, age_rotation
):
    user = await new_user()
    other = await login_again(client, user)
    await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    await age_rotation(user.refresh_token)
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert_unauthenticated(reuse, "SESSION_REVOKED")
    assert (await client.get(ME, headers=other.headers)).status_code == 200


# --- asymmetric keys (EdDSA, RS256) and the JWKS ----------------------------


def _key_pair(kind: str):
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate(), "EdDSA", "OKP"
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", "RSA"


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
async def test_asymmetric_keys_sign_tokens_publish_a_jwks_and_refuse_hs256_with_the_public_key(
    settings, tmp_path, kind
):
    private, algorithm, kty = _key_pair(kind)
    private_file, public_file = tmp_path / "jwt.key", tmp_path / "jwt.pub"
    private_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_file.write_bytes(public_pem)

    async with running_app(
        settings, jwt_private_key_file=private_file, jwt_public_key_file=public_file
    ) as (_, client):
        user = await signup(client)
        header, _ = decode_unverified(user.access_token)
        assert header["alg"] == algorithm and header["kid"]
        me = await client.get(ME, headers=user.headers)
        assert me.status_code == 200 and me.json()["id"] == user.id

        jwks = (await client.get("/.well-known/jwks.json")).json()
        [key] = jwks["keys"]
        assert (key["kid"], key["alg"], key["use"], key["kty"]) == (
            header["kid"],
            algorithm,
            "sig",
            kty,
        )
        assert "d" not in key  # never the private part
        verified = jwt.decode(
            user.access_token,
            jwt.PyJWK(key).key,
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
        assert (verified["sub"], verified["sid"]) == (user.id, user.session_id)

        claims = access_claims(settings, user)
        confused = hs256_token(public_pem, claims, kid=header["kid"])
        assert_unauthenticated(await client.get(ME, headers=bearer(confused)), "TOKEN_INVALID")
        shared_secret = forge_hs256(settings, user)
        assert_unauthenticated(await client.get(ME, headers=bearer(shared_secret)), "TOKEN_INVALID")
        none = unsigned_token(claims, {"alg": "none", "kid": header["kid"]})
        assert_unauthenticated(await client.get(ME, headers=bearer(none)), "TOKEN_INVALID")
