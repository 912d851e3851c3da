"""Snapshot + replay against the real database, checked by random op sequences.

Snapshots are taken every 3 ops here, so sequences cross many snapshot
boundaries; the cache is exercised warm and cold.
"""

from __future__ import annotations

import uuid

import jsonpatch
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import NoOpTracer

from lowcode.pages import oplog
from lowcode.pages import service as pages
from lowcode.pages.errors import InvalidDocument, PatchFailed
from lowcode.platform.metrics import Metrics
from lowcode.resources import open_resources
from tests.integration.loop_thread import acting_in_a_workspace


@pytest.fixture(scope="module")
def env(settings):
    """(loop thread, resources, actor, workspace id) on a private loop."""
    with acting_in_a_workspace(
        settings, "prop", page_snapshot_every_ops=3, page_snapshot_every_s=3600
    ) as env:
        yield env


# A step is resolved against the current document, so "valid" steps stay valid.
steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.integers(0, 50),
            st.sampled_from("abcde"),
            # No U+0000 (jsonb cannot hold it) and no lone surrogates (not
            # UTF-8): every input boundary refuses both before a patch exists.
            st.one_of(
                st.integers(),
                st.text(
                    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                    max_size=5,
                ),
                st.none(),
                st.booleans(),
            ),
        ),
        st.tuples(st.just("child"), st.integers(0, 50), st.text("xyz", min_size=1, max_size=3)),
        st.tuples(st.just("unset"), st.integers(0, 50)),
        st.tuples(
            st.just("bad"),
            st.sampled_from(["ghost-child", "missing-path", "drop-root", "test-fails"]),
        ),
    ),
    min_size=1,
    max_size=12,
)


def concrete(step, doc) -> tuple[list[dict], bool]:
    """(patch, is_valid) for one abstract step on `doc`."""
    ids = sorted(doc["components"])
    kind = step[0]
    if kind == "set":
        cid = ids[step[1] % len(ids)]
        return [{"op": "add", "path": f"/components/{cid}/props/{step[2]}", "value": step[3]}], True
    if kind == "child":
        parent = ids[step[1] % len(ids)]
        new_id = f"{step[2]}-{uuid.uuid4().hex[:6]}"
        return [
            {
                "op": "add",
                "path": f"/components/{new_id}",
                "value": {"id": new_id, "name": "Box", "props": {}, "children": []},
            },
            {"op": "add", "path": f"/components/{parent}/children/-", "value": new_id},
        ], True
    if kind == "unset":
        with_props = [c for c in ids if doc["components"][c]["props"]]
        if not with_props:
            return [{"op": "test", "path": "/rootId", "value": doc["rootId"]}], True
        cid = with_props[step[1] % len(with_props)]
        key = sorted(doc["components"][cid]["props"])[0]
        return [{"op": "remove", "path": f"/components/{cid}/props/{key}"}], True
    bad = step[1]
    root = doc["rootId"]
    if bad == "ghost-child":
        return [{"op": "add", "path": f"/components/{root}/children/-", "value": "ghost"}], False
    if bad == "missing-path":
        return [{"op": "remove", "path": "/components/no-such-component"}], False
    if bad == "drop-root":
        return [{"op": "remove", "path": f"/components/{root}"}], False
    return [{"op": "test", "path": "/rootId", "value": "not-the-root"}], False


async def forget_cache(res, page_id):
    keys = [
        k
        async for k in res.redis.scan_iter(match=res.settings.redis_key("page", str(page_id), "*"))
    ]
    if keys:
        await res.redis.delete(*keys)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=steps)
def test_snapshot_plus_replay_equals_applying_ops_one_by_one(env, sequence):
    lt, res, actor, ws_id = env

    async def scenario():
        page = await pages.create_page(res, actor, ws_id, title="prop", document=None)
        model, version = page.document, 1
        for step in sequence:
            patch, valid = concrete(step, model)
            try:
                await pages.patch_page(
                    res,
                    actor,
                    page.summary.id,
                    base_version=version,
                    patch=patch,
                    op_id=uuid.uuid4().hex,
                )
            except (PatchFailed, InvalidDocument):
                assert not valid, f"valid patch refused: {patch}"
            else:
                assert valid, f"invalid patch accepted: {patch}"
                model = jsonpatch.apply_patch(model, patch)
                version += 1
            current = await pages.get_page(res, actor, page.summary.id)
            assert current.version == version
            assert current.document == model  # warm cache (or the snapshot itself)
        await forget_cache(res, page.summary.id)
        cold = await pages.get_page(res, actor, page.summary.id)
        assert cold.document == model and cold.version == version
        async with res.pool.acquire() as conn:
            first = await res.queries.pages.get_revision(conn, page_id=page.summary.id, version=1)
            from_start = await oplog.replay(res, conn, page.summary.id, first.schema, 1, version)
        assert from_start == model

    lt.run(scenario())


def test_reads_are_right_without_redis_across_a_snapshot_boundary(env, settings, tmp_path):
    lt, res, actor, ws_id = env
    dead = settings.model_copy(
        update={"redis_url": f"unix://{tmp_path}/no-redis.sock", "page_snapshot_every_ops": 3}
    )
    cm = open_resources(dead, Metrics(), NoOpTracer())
    no_redis = lt.run(cm.__aenter__())
    try:

        async def scenario():
            page = await pages.create_page(res, actor, ws_id, title="cold", document=None)
            root = page.document["rootId"]
            expected = page.document
            for version in range(1, 8):  # snapshots at 4 and 7
                patch = [{"op": "add", "path": f"/components/{root}/props/p{version}", "value": 1}]
                await pages.patch_page(
                    res,
                    actor,
                    page.summary.id,
                    base_version=version,
                    patch=patch,
                    op_id=f"c{version}",
                )
                expected = jsonpatch.apply_patch(expected, patch)
                for reader in (res, no_redis):
                    current = await pages.get_page(reader, actor, page.summary.id)
                    assert (current.version, current.document) == (version + 1, expected)

        lt.run(scenario())
    finally:
        lt.run(cm.__aexit__(None, None, None))
