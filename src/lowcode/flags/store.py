"""Every flag, held in this process: the cache evaluations read.

The table is small, so each node keeps all of it and replaces the copy whole
when a change is announced (`lowcode.toggles`); an evaluation is then a dict
lookup and at most one murmur3 hash — cheaper than any memo of results would be.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping

from lowcode.flags.evaluation import Evaluation, Flag, evaluate_flag, not_found
from lowcode.platform.db import Pool
from lowcode_gen.queries import Queries

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


class FlagStore:
    def __init__(self, defaults: Mapping[str, bool]) -> None:
        bad = [k for k in defaults if not KEY_PATTERN.match(k)]
        if bad:
            raise ValueError(f"FLAG_DEFAULTS: invalid flag keys {bad} (want {KEY_PATTERN.pattern})")
        self._defaults = {k: Flag.from_default(k, bool(v)) for k, v in defaults.items()}
        self._flags: dict[str, Flag] = dict(self._defaults)
        # Reloads run one at a time, so a slow one never installs an older
        # table after a newer one.
        self._lock = asyncio.Lock()

    async def reload(self, pool: Pool, queries: Queries) -> None:
        async with self._lock:
            async with pool.acquire() as conn:
                rows = [Flag.from_row(r) async for r in queries.flags.list_flags(conn)]
            self._flags = self._defaults | {f.key: f for f in rows}

    def default_for(self, key: str) -> Flag | None:
        return self._defaults.get(key)

    def get(self, key: str) -> Flag | None:
        return self._flags.get(key)

    def all(self) -> list[Flag]:
        return sorted(self._flags.values(), key=lambda f: f.key)

    def evaluate(self, key: str, workspace_id: uuid.UUID, default: bool = False) -> Evaluation:
        flag = self._flags.get(key)
        return not_found(key, default) if flag is None else evaluate_flag(flag, workspace_id)
