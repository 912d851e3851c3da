"""Rebase, not reject, checked by random concurrent op sets on the real write path.

Several clients edit one page, each from its own (often stale) copy: in every
round some of them make an op against the version they last saw, and the ops
go through `oplog.append_ops` together (as a room batches them) or one by one
(as HTTP patches arrive), with or without a room's in-memory history. Then:

- every client that applies the broadcast stream (the applied ops, in version
  order) ends with the stored document, and so does a replay of the op log;
- an op is refused with VERSION_CONFLICT exactly when it overlaps an op since
  its base — decided here by an oracle written independently of
  `pages.rebase`, from SPEC §4.6's wording.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowcode.pages import oplog
from lowcode.pages import service as pages
from lowcode.pages.errors import OpConflict, OpIdConflict
from lowcode.pages.models import AppliedOp, OpInput
from lowcode.pages.rebase import History
from lowcode.platform.db import transaction
from lowcode.platform.errors import AppError
from tests.integration.loop_thread import acting_in_a_workspace


@pytest.fixture(scope="module")
def env(settings):
    with acting_in_a_workspace(
        settings, "rebase", page_snapshot_every_ops=4, page_snapshot_every_s=3600
    ) as env:
        yield env


# ---- the oracle: SPEC §4.6 in strings -----------------------------------------


def spot(pointer: str, target: bool) -> tuple[str, str]:
    """(path cut at the first array index, kind) — kind is whole/index/append."""
    parts = pointer.split("/")[1:]
    for i, part in enumerate(parts):
        if part == "-" and target and i == len(parts) - 1:
            return "/".join(parts[:i]), "append"
        if part == "-" or part.isdigit():
            return "/".join(parts[:i]), "index"
    return "/".join(parts), "whole"


def spots(patch: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for op in patch:
        if op["op"] == "test":
            continue
        if op["op"] in ("move", "copy"):
            out.append(spot(op["from"], target=False))
        out.append(spot(op["path"], target=op["op"] in ("add", "move", "copy")))
    return out


def collide(a: tuple[str, str], b: tuple[str, str]) -> bool:
    (pa, ka), (pb, kb) = a, b
    related = pa == pb or pa == "" or pb == "" or pa.startswith(pb + "/") or pb.startswith(pa + "/")
    if not related:
        return False
    # Appends leave indices alone: beside other appends and index ops, no overlap.
    return not (pa == pb and "whole" not in (ka, kb) and "append" in (ka, kb))


def overlapping(patch: list[dict[str, Any]], others: list[list[dict[str, Any]]]) -> bool:
    return any(collide(a, b) for other in others for b in spots(other) for a in spots(patch))


# ---- clients and the ops they make ----------------------------------------------


@dataclass
class Client:
    doc: dict[str, Any]
    version: int
    seen: int = 0  # how much of the broadcast stream it applied
    made: list[str] = field(default_factory=list)


def make_op(draw: Any, doc: dict[str, Any], fresh: Iterator[int]) -> list[dict[str, Any]]:
    comps = sorted(doc["components"])
    cid = draw(st.sampled_from(comps))
    comp = doc["components"][cid]
    kinds = ["set", "set", "child", "props", "test"]
    if comp["props"]:
        kinds.append("unset")
    if comp["children"]:
        kinds += ["drop-child", "move-child"]
    kind = draw(st.sampled_from(kinds))
    if kind == "set":
        key = draw(st.sampled_from("abcd"))
        return [
            {
                "op": "add",
                "path": f"/components/{cid}/props/{key}",
                "value": draw(st.integers(0, 9)),
            }
        ]
    if kind == "unset":
        key = draw(st.sampled_from(sorted(comp["props"])))
        return [{"op": "remove", "path": f"/components/{cid}/props/{key}"}]
    if kind == "props":
        return [{"op": "replace", "path": f"/components/{cid}/props", "value": {"z": 1}}]
    if kind == "child":
        # Numbered, not random: ids sort into the components a later draw
        # picks from, and Hypothesis needs the same draws to give the same ops.
        new = f"c{next(fresh):04d}"
        box = {"id": new, "name": "Box", "props": {}, "children": []}
        return [
            {"op": "add", "path": f"/components/{new}", "value": box},
            {"op": "add", "path": f"/components/{cid}/children/-", "value": new},
        ]
    if kind == "drop-child":
        i = draw(st.integers(0, len(comp["children"]) - 1))
        return [{"op": "remove", "path": f"/components/{cid}/children/{i}"}]
    if kind == "move-child":
        i = draw(st.integers(0, len(comp["children"]) - 1))
        to = draw(st.sampled_from(comps))
        source, target = f"/components/{cid}/children/{i}", f"/components/{to}/children/-"
        return [{"op": "move", "from": source, "path": target}]
    return [{"op": "test", "path": "/rootId", "value": doc["rootId"]}]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_clients_applying_the_broadcast_stream_converge_and_only_overlaps_conflict(env, data):
    lt, res, actor, ws_id = env
    draw = data.draw
    page = lt.run(pages.create_page(res, actor, ws_id, title="rebase", document=None))
    page_id, initial = page.summary.id, page.document
    clients = [Client(initial, 1) for _ in range(draw(st.integers(2, 4)))]
    fresh = itertools.count()
    stream: list[AppliedOp] = []  # versions 2, 3, …
    use_history = draw(st.booleans())
    history = History(1, 1000)
    stored, head = initial, 1

    for _round in range(draw(st.integers(1, 5))):
        makers = draw(st.lists(st.sampled_from(range(len(clients))), min_size=1, max_size=5))
        ops = []
        for who in makers:
            c = clients[who]
            op_id = uuid.uuid4().hex
            c.made.append(op_id)
            ops.append(OpInput(make_op(draw, c.doc, fresh), op_id, actor.user_id, c.version))
        batches = [ops] if draw(st.booleans()) else [[op] for op in ops]
        for batch in batches:

            async def append(batch=batch, stored=stored, head=head):
                async with transaction(res.pool) as conn:
                    return await oplog.append_ops(
                        res, conn, page_id=page_id, base_version=head, ops=batch,
                        current=stored, history=history if use_history else None,
                    )  # fmt: skip

            result = lt.run(append())
            decided_at = head
            for op, outcome in zip(batch, result.outcomes, strict=True):
                since = [a.patch for a in stream if op.base_version < a.version <= decided_at]
                expected = overlapping(op.patch, since)
                if isinstance(outcome, OpConflict):
                    assert expected, f"{op.patch} refused, but touches nothing of {since}"
                    continue
                assert not expected, f"{op.patch} applied over {since}"
                if isinstance(outcome, AppError):
                    continue  # does not apply at the head (e.g. its child moved away)
                assert outcome.version == decided_at + 1 and outcome.patch == op.patch
                stream.append(outcome)
                decided_at += 1
            assert result.version == decided_at
            if use_history:
                assert history.head == result.version  # the write path keeps it
            stored, head = result.document, result.version

        # Each client catches up with some prefix of the broadcast stream.
        for c in clients:
            upto = draw(st.integers(c.seen, len(stream)))
            for applied in stream[c.seen : upto]:
                c.doc = jsonpatch.apply_patch(c.doc, applied.patch)
                c.version = applied.version
            c.seen = upto

    for c in clients:
        for applied in stream[c.seen :]:
            c.doc = jsonpatch.apply_patch(c.doc, applied.patch)
        assert c.doc == stored
    now = lt.run(pages.get_page(res, actor, page_id))
    assert (now.version, now.document) == (head, stored)

    async def replayed():
        async with res.pool.acquire() as conn:
            return await oplog.replay(res, conn, page_id, initial, 1, head)

    assert lt.run(replayed()) == stored


def test_the_batched_writer_writes_many_pages_in_one_go_and_isolates_errors(env):
    """Rooms' group commit: writes queued together go in one statement; a page
    whose head moved gets None, a reused opId fails only its own write."""
    lt, res, actor, ws_id = env

    async def scenario():
        made = [
            await pages.create_page(res, actor, ws_id, title=f"w{i}", document=None)
            for i in range(5)
        ]
        ids = [p.summary.id for p in made]
        # Page 4 already has an op "taken" at version 2.
        await pages.patch_page(
            res, actor, ids[4], base_version=1, patch=[{"op": "test", "path": "/rootId",
            "value": made[4].document["rootId"]}], op_id="taken",
        )  # fmt: skip
        writer = oplog.BatchedWriter(res)

        noop = '[{"op":"test","path":"/rootId","value":"x"}]'

        def write(i: int, base: int, op_id: str) -> oplog.HeadWrite:
            return oplog.HeadWrite(
                ids[i], base, base + 1, actor.user_id, [base + 1], [noop], [op_id], [actor.user_id]
            )

        # All good: one statement for three pages.
        together = await asyncio.gather(*(writer.write(write(i, 1, f"t{i}")) for i in (0, 1, 3)))
        assert all(isinstance(o, oplog.HeadMoved) for o in together)

        outcomes = await asyncio.gather(
            writer.write(write(0, 2, "a")),
            writer.write(write(1, 2, "b")),
            writer.write(write(2, 7, "c")),  # not at version 7: skipped
            writer.write(write(3, 2, "d")),
            writer.write(write(4, 2, "taken")),  # opId reused on that page
            return_exceptions=True,
        )
        await writer.close()
        async with res.pool.acquire() as conn:
            heads = [(await res.queries.pages.get_page_head(conn, page_id=i)).version for i in ids]
        return outcomes, heads

    outcomes, heads = lt.run(scenario())
    assert [isinstance(o, oplog.HeadMoved) for o in outcomes[:2]] == [True, True]
    assert outcomes[2] is None and isinstance(outcomes[3], oplog.HeadMoved)
    assert isinstance(outcomes[4], OpIdConflict)
    assert heads == [3, 3, 1, 3, 2]
