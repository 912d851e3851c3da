"""Which exceptions mean "a dependency is down or too slow", translated once.

An outage is not a bug of ours: the client gets 503 with `Retry-After` (not
500), and the log gets a warning without a stack. Connection failures and
timeouts of PostgreSQL (refused, reset, closed, acquire and command timeouts,
the server shutting down or out of connections, a statement timeout) and of
Redis count; everything else stays an unexpected 500.
"""

from __future__ import annotations

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lowcode.platform.errors import Unavailable

_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, cannot connect now, canceled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, _OUTAGES):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        # "connection is closed", "pool is closing"; other interface errors are bugs.
        return "clos" in str(exc)
    # A refused or unreachable server surfaces as a bare OSError from connect().
    return type(exc) is OSError and exc.errno is not None


def unavailable(retry_after_s: int) -> Unavailable:
    """The 503 a client gets for an outage."""
    return Unavailable(
        "a service this request needs is unavailable; retry later",
        headers={"Retry-After": str(retry_after_s)},
    )
