"""A model editor for convergence tests: keeps its own copy of the document from
the frames it receives, sends random valid ops, resyncs on conflict."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from typing import Any

import jsonpatch

from tests.api.collab.peer import Peer, open_peer
from tests.support import Account


class Editor:
    def __init__(self, peer: Peer, seed: int) -> None:
        self.peer = peer
        self.rng = random.Random(seed)
        self.document: dict[str, Any] = {}
        self.version = 0
        self.acked: list[tuple[str, int]] = []
        self.conflicts = 0

    async def start(self) -> None:
        sync = await self.peer.next("sync")
        self._take_sync(sync)

    def _take_sync(self, frame: dict[str, Any]) -> None:
        self.document = frame["payload"]["document"]
        self.version = frame["payload"]["version"]

    def _random_patch(self) -> list[dict[str, Any]]:
        ids = sorted(self.document["components"])
        target = self.rng.choice(ids)
        if self.rng.random() < 0.3:
            new_id = f"c-{uuid.uuid4().hex[:8]}"
            return [
                {"op": "add", "path": f"/components/{new_id}",
                 "value": {"id": new_id, "name": "Box", "props": {}, "children": []}},
                {"op": "add", "path": f"/components/{target}/children/-", "value": new_id},
            ]  # fmt: skip
        key = self.rng.choice("abcdefgh")
        return [
            {"op": "add", "path": f"/components/{target}/props/{key}", "value": self.rng.random()}
        ]

    def _apply_remote(self, frame: dict[str, Any]) -> None:
        payload = frame["payload"]
        if payload["version"] == self.version + 1:
            self.document = jsonpatch.apply_patch(self.document, payload["patches"])
            self.version = payload["version"]

    async def _until_answer(self, op_id: str, patch: list[dict[str, Any]]) -> None:
        while True:
            frame = await self.peer.next(timeout=15)
            kind = frame["type"]
            if kind == "op-patch":
                self._apply_remote(frame)
            elif kind == "ack" and frame["payload"]["opId"] == op_id:
                self.document = jsonpatch.apply_patch(self.document, patch)
                self.version = frame["payload"]["version"]
                self.acked.append((op_id, self.version))
                return
            elif kind == "error" and frame["payload"].get("opId") == op_id:
                assert frame["payload"]["code"] in ("VERSION_CONFLICT", "RATE_LIMITED"), frame
                self.conflicts += 1
                await self.peer.send("sync-request", {})
                while True:
                    again = await self.peer.next(timeout=15)
                    if again["type"] == "sync":
                        self._take_sync(again)
                        return
                    if again["type"] == "error" and again["payload"]["code"] == "RATE_LIMITED":
                        await asyncio.sleep(0.2)
                        await self.peer.send("sync-request", {})
                    # op-patch frames before the sync are superseded by it

    async def edit(self, seconds: float, pause: float = 0.08) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            patch = self._random_patch()
            op_id = uuid.uuid4().hex
            await self.peer.send(
                "op-patch", {"patches": patch, "baseVersion": self.version, "opId": op_id}
            )
            await self._until_answer(op_id, patch)
            await asyncio.sleep(self.rng.random() * pause)

    async def settle(self, version: int, timeout: float = 15) -> None:
        """Apply broadcasts until our copy reaches `version`."""
        async with asyncio.timeout(timeout):
            while self.version < version:
                frame = await self.peer.next(timeout=timeout)
                if frame["type"] == "op-patch":
                    self._apply_remote(frame)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.peer.close()


async def join(url: str, page: dict[str, Any], account: Account, seed: int) -> Editor:
    """An editor of `page` as `account` on the server at `url`, synced and ready to edit."""
    editor = Editor(await open_peer(url, page["id"], account.access_token), seed=seed)
    await editor.start()
    return editor
