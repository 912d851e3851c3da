"""Access tokens (JWT) and refresh tokens (opaque, stored hashed).

HS256 with `JWT_SECRET` by default; EdDSA (Ed25519 key) or RS256 (RSA key)
when `JWT_PRIVATE_KEY_FILE` and `JWT_PUBLIC_KEY_FILE` are set, with the public
key published at `/.well-known/jwks.json`. Verification accepts exactly the one
configured algorithm, so `alg: none` and HS/RS confusion are rejected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from lowcode.identity.errors import TokenExpired, TokenInvalid
from lowcode.settings import Settings

REQUIRED_CLAIMS = ["sub", "sid", "role", "iss", "aud", "iat", "exp", "jti"]
# Verified access tokens remembered per process (about 1 KB each).
VERIFIED_TOKENS_MAX = 10_000


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    expires_at: int


def new_refresh_token() -> tuple[str, bytes]:
    """(the token handed to the client, the hash we store)."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> bytes:
    # 256 random bits need no slow hash: a fast one already makes the stored
    # value useless to a database thief.
    return hashlib.sha256(token.encode()).digest()


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.leeway = settings.jwt_leeway_s
        self.ttl = settings.access_token_ttl_s
        self.kid: str | None = None
        self._verified: dict[str, AccessClaims] = {}
        self._public_jwk: dict[str, Any] | None = None
        private_file, public_file = settings.jwt_private_key_file, settings.jwt_public_key_file
        if bool(private_file) != bool(public_file):
            raise ValueError("set both JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE, or neither")
        if private_file and public_file:
            private = serialization.load_pem_private_key(private_file.read_bytes(), password=None)
            public = serialization.load_pem_public_key(public_file.read_bytes())
            if isinstance(private, ed25519.Ed25519PrivateKey) and isinstance(
                public, ed25519.Ed25519PublicKey
            ):
                self.algorithm = "EdDSA"
                jwk = json.loads(OKPAlgorithm.to_jwk(public))
            elif isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey):
                self.algorithm = "RS256"
                jwk = json.loads(RSAAlgorithm.to_jwk(public))
            else:
                raise ValueError("JWT keys must be a matching Ed25519 (EdDSA) or RSA (RS256) pair")
            self._signing_key: Any = private
            material = private.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            self._verifying_key: Any = public
            der = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            self.kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode()
            self._public_jwk = {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}
        else:
            self.algorithm = "HS256"
            secret = settings.jwt_secret.get_secret_value().encode()
            if len(secret) < 32:
                raise ValueError("JWT_SECRET must be at least 32 bytes for HS256")
            self._signing_key = self._verifying_key = secret
            material = secret
        # Its own key (domain-separated from the signing key's use).
        self._successor_key = hashlib.sha256(b"lowcode refresh successor v1\0" + material).digest()

    def successor_refresh_token(self, token: str) -> str:
        """The refresh token that replaces `token` when it is rotated.

        Derived (HMAC with a server key), not random, so a second exchange of
        the same token within the reuse interval hands out the same successor
        without storing it: only its hash is in the database, and computing it
        needs both the old token and the server's key."""
        digest = hmac.new(self._successor_key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue_access(self, *, user_id: uuid.UUID, session_id: uuid.UUID, role: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.kid} if self.kid else None
        return jwt.encode(claims, self._signing_key, algorithm=self.algorithm, headers=headers)

    def decode_access(self, token: str) -> AccessClaims:
        """The claims of a valid, unexpired access token.

        A token's signature and claims never change, so a verified token is
        remembered (bounded, per process) and a repeat only has its expiry
        checked again: the signature check is most of the cost of a request's
        authentication. Revocation is the session's business (`security`)."""
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at + self.leeway <= time.time():
                self._verified.pop(token, None)
                raise TokenExpired("the access token has expired; refresh it")
            return known
        claims = self._decode(token)
        if len(self._verified) >= VERIFIED_TOKENS_MAX:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _decode(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._verifying_key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                session_id=uuid.UUID(claims["sid"]),
                role=str(claims["role"]),
                expires_at=int(claims["exp"]),
            )
        except jwt.ExpiredSignatureError as e:
            raise TokenExpired("the access token has expired; refresh it") from e
        except (jwt.InvalidTokenError, ValueError, TypeError) as e:
            raise TokenInvalid("the access token is not valid") from e

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._public_jwk] if self._public_jwk else []}
