"""Re-encrypting stored datasource passwords under the newest key."""

from __future__ import annotations

import uuid

from lowcode.platform.db import transaction
from lowcode.resources import Resources

BATCH = 200


async def rotate_passwords(res: Resources) -> tuple[int, int]:
    """Every stored password re-encrypted under the first DATASOURCE_KEYS key,
    a batch per transaction; returns (rotated, skipped because changed meanwhile).

    Each row is a compare-and-set on the old ciphertext, so a password changed
    through the API during the run keeps its new value.
    """
    q = res.queries.datasources
    rotated = skipped = 0
    after = uuid.UUID(int=0)
    while True:
        async with transaction(res.pool) as conn:
            batch = [
                (r.id, r.password_ciphertext)
                async for r in q.list_password_ciphertexts(conn, after_id=after, limit=BATCH)
            ]
            for datasource_id, old in batch:
                assert old is not None
                new = res.passwords.rotate(old)
                if await q.replace_password_ciphertext(
                    conn, datasource_id=datasource_id, old_ciphertext=old, new_ciphertext=new
                ):
                    rotated += 1
                else:
                    skipped += 1
        if len(batch) < BATCH:
            return rotated, skipped
        after = batch[-1][0]
