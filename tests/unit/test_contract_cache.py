"""Contract documents parsed once and kept as JSON, keyed by their text."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lowcode.platform.contracts import load_yaml


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "lowcode" / "contracts"


def test_a_document_is_read_back_from_the_cache_until_it_changes(
    tmp_path: Path, cache: Path
) -> None:
    doc = tmp_path / "api.yaml"
    doc.write_text("openapi: 3.0.3\npaths:\n  /a: {get: {operationId: a}}\n")
    first = load_yaml(doc)
    assert len(list(cache.glob("api-*.json"))) == 1
    # The cached copy is what is read now: prove it by changing it.
    (entry,) = cache.glob("api-*.json")
    entry.write_text('{"openapi": "from the cache"}')
    assert load_yaml(doc) == {"openapi": "from the cache"}
    doc.write_text("openapi: 3.0.3\npaths: {}\n")
    assert load_yaml(doc) == {"openapi": "3.0.3", "paths": {}}
    assert first == yaml.safe_load("openapi: 3.0.3\npaths:\n  /a: {get: {operationId: a}}\n")


def test_a_broken_cache_entry_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "api.yaml"
    doc.write_text("a: 1\n")
    load_yaml(doc)
    (entry,) = cache.glob("api-*.json")
    entry.write_text("{not json")
    assert load_yaml(doc) == {"a": 1}


def test_what_json_cannot_hold_is_not_cached(tmp_path: Path, cache: Path) -> None:
    doc = tmp_path / "api.yaml"
    doc.write_text("responses:\n  200: {description: ok}\nwhen: 2026-11-22\n")
    expected = yaml.safe_load(doc.read_text())
    assert load_yaml(doc) == expected
    assert load_yaml(doc) == expected
    assert not list(cache.glob("api-*.json"))
