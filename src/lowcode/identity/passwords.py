"""argon2id password hashing. Hashing is CPU- and memory-bound (~tens of ms and
64 MiB each, by design), so it runs on a small executor of its own: never on
the event loop, and never on asyncio's default executor, which DNS lookups and
every other `to_thread` share — a flood of logins queues here instead of
starving them, and at most `HASH_THREADS` hashes hold memory at once."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 defaults

# argon2 releases the GIL: one thread per core does all the work there is.
HASH_THREADS = max(1, min(4, os.cpu_count() or 1))
_executor = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")

T = TypeVar("T")


async def _run(fn: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_executor, fn, *args)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a miss costs as much as a hit."""
    return _hasher.hash("not-a-real-password")


async def hash_password(password: str) -> str:
    return await _run(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        ok = await _run(_hasher.verify, stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(ok) and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
