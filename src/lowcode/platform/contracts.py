"""Where the files the service reads at run time live: the OpenAPI and AsyncAPI
documents (`api/`), the named queries (`queries/`) and the migrations
(`migrations/`).

A source checkout (the editable install `make install` makes) reads the
repository's own folders, so an edit there is live at once. A built wheel —
what the container image installs — carries copies under
`lowcode/_contracts/`, put there by the build (`setup.py`), so an installed
package finds them with no environment variable and wherever it is installed.
MIGRATIONS_DIR, QUERIES_DIR, OPENAPI_FILE and ASYNCAPI_FILE still override
each path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import orjson
import yaml

# The folders copied into the wheel; setup.py reads this tuple too.
CONTRACT_DIRS = ("api", "queries", "migrations")

# The repository root when this file is src/lowcode/platform/contracts.py.
CHECKOUT_ROOT = Path(__file__).resolve().parents[3]
# The copies inside an installed package: site-packages/lowcode/_contracts.
PACKAGED_ROOT = Path(__file__).resolve().parents[1] / "_contracts"


def _has_contracts(root: Path) -> bool:
    return (root / "api" / "openapi" / "openapi.yaml").is_file() and (root / "migrations").is_dir()


def is_checkout(root: Path = CHECKOUT_ROOT) -> bool:
    """A source tree of this project, not the site-packages an install lands in."""
    return (root / "pyproject.toml").is_file() and _has_contracts(root)


def contracts_root() -> Path:
    """The folder holding `api/`, `queries/` and `migrations/`.

    The checkout wins, so tests and `make run` use the files being edited;
    otherwise the packaged copies. When neither exists, the packaged path is
    returned anyway so the error that follows names where the files belong.
    """
    return CHECKOUT_ROOT if is_checkout() else PACKAGED_ROOT


def load_yaml(path: Path) -> Any:
    """A contract document, parsed.

    Parsing the OpenAPI document was a large share of cold start, so the
    result is kept as JSON in the user's cache folder, named by the SHA-256
    of the YAML text (an edited document is simply another entry), and read
    back with orjson; only documents that survive a JSON round trip unchanged
    are kept. Without a writable cache folder it is parsed every time, with
    libyaml's parser when PyYAML has it."""
    text = path.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    cached = _cache_dir() / f"{path.stem}-{digest}.json"
    with contextlib.suppress(OSError, ValueError):
        return orjson.loads(cached.read_bytes())
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    with contextlib.suppress(OSError, TypeError, ValueError):
        encoded = json.dumps(document).encode()
        if json.loads(encoded) == document:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(encoded)
            partial.replace(cached)
    return document


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lowcode" / "contracts"
