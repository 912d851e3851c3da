"""Datasource passwords at rest: Fernet tokens under a MultiFernet.

`DATASOURCE_KEYS` lists Fernet keys, newest first. The first encrypts; every
key decrypts. Rotation: put a new key first, run `lowcode datasources
rotate-keys` (re-encrypts every password under the first key), then drop the
old key. A plaintext password lives only in the call that needs it; it is
never logged, traced, returned or put in a job payload.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from lowcode.platform.errors import AppError


class SecretUnreadable(AppError):
    """A stored password no configured key decrypts (a key was dropped too early)."""

    code = "DATASOURCE_SECRET_UNREADABLE"


class PasswordBox:
    def __init__(self, keys: SecretStr) -> None:
        raw = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        if not raw:
            raise ValueError("DATASOURCE_KEYS holds no key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in raw])
        except ValueError as e:
            # The message would not contain the key, but say which one without it.
            raise ValueError(
                "DATASOURCE_KEYS: every key must be a urlsafe-base64 32-byte Fernet key "
                "(`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from e

    def encrypt(self, password: str) -> str:
        return self._fernet.encrypt(password.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as e:
            raise SecretUnreadable(
                "the datasource password cannot be decrypted with DATASOURCE_KEYS; "
                "was a key removed before `lowcode datasources rotate-keys` ran?"
            ) from e

    def rotate(self, ciphertext: str) -> str:
        """The same password encrypted under the first (newest) key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as e:
            raise SecretUnreadable("a stored password matches none of DATASOURCE_KEYS") from e
