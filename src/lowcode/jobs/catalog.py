"""Every entrypoint this process can run: each context's cron and background
work, plus those WORKER_IMPORTS names. Only the worker process reads it; the
contexts import `jobs.registry`, never this."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from lowcode.identity.jobs import ENTRYPOINTS as IDENTITY
from lowcode.jobs.maintenance import ENTRYPOINTS as JOBS
from lowcode.jobs.registry import Entrypoint
from lowcode.pages.jobs import ENTRYPOINTS as PAGES
from lowcode.settings import Settings
from lowcode.sync.schedule import ENTRYPOINTS as SYNC


def builtin_entrypoints() -> list[Entrypoint[Any]]:
    return [*IDENTITY, *PAGES, *JOBS, *SYNC]


def _imported(spec: str) -> Iterable[Entrypoint[Any]]:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"WORKER_IMPORTS entry {spec!r} is not `module:attribute`")
    found = getattr(importlib.import_module(module_name), attribute)
    items = list(found)
    for item in items:
        if not isinstance(item, Entrypoint):
            raise ValueError(f"{spec} holds {item!r}, not an Entrypoint")
    return items


def split_names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def known_entrypoints(settings: Settings) -> dict[str, Entrypoint[Any]]:
    """Every entrypoint this process knows: built-in and WORKER_IMPORTS."""
    known: dict[str, Entrypoint[Any]] = {}
    candidates = builtin_entrypoints()
    for spec in split_names(settings.worker_imports):
        candidates.extend(_imported(spec))
    for ep in candidates:
        if ep.name in known and known[ep.name] is not ep:
            raise ValueError(f"two entrypoints are named {ep.name!r}")
        known[ep.name] = ep
    return known


def selected_entrypoints(
    settings: Settings, known: dict[str, Entrypoint[Any]]
) -> dict[str, Entrypoint[Any]]:
    """The entrypoints this worker runs: WORKER_ENTRYPOINTS, or all it knows."""
    wanted = split_names(settings.worker_entrypoints)
    if not wanted:
        return dict(known)
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f"WORKER_ENTRYPOINTS names unknown entrypoints: {', '.join(unknown)}")
    return {name: known[name] for name in wanted}
