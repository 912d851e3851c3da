"""The in-process page document cache stays within its byte budget, dropping
the least recently read versions first."""

from __future__ import annotations

import uuid

from lowcode.pages.cache import LocalDocuments
from lowcode.platform import jsoncodec


def _doc(n: int) -> dict[str, object]:
    return {"rootId": "r", "components": {"r": {"id": "r", "pad": "x" * n}}}


def test_the_least_recently_read_versions_go_first() -> None:
    size = len(jsoncodec.dumpb(_doc(100)))
    cache = LocalDocuments(max_bytes=3 * size)
    page = uuid.uuid4()
    for version in (1, 2, 3):
        cache.put(page, version, _doc(100))
    assert cache.get(page, 1) is not None  # now the most recently read
    cache.put(page, 4, _doc(100))
    assert cache.get(page, 2) is None
    assert [v for v in (1, 3, 4) if cache.get(page, v) is not None] == [1, 3, 4]


def test_a_document_larger_than_the_budget_is_not_held() -> None:
    cache = LocalDocuments(max_bytes=50)
    page = uuid.uuid4()
    cache.put(page, 1, _doc(100))
    assert cache.get(page, 1) is None
