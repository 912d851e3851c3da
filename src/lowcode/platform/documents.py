"""The contracts as written, served for clients and generators.

`/openapi.json` and `/openapi.yaml` are the spec with its `$ref`s and named
components intact (Connexion would serve it fully dereferenced: types
generated from it lose their names), its `servers` entry the URL the API is
served under (behind a path-rewriting proxy, the `root_path` the request
came through), and without the server's own wiring (Connexion's
`x-…Func` handler paths). `/asyncapi.yaml` and
`/asyncapi.json` are the WebSocket protocol. Swagger UI at `/docs` reads
`/openapi.json`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from starlette.types import Scope, Send

OPENAPI_JSON = "/openapi.json"
OPENAPI_YAML = "/openapi.yaml"
ASYNCAPI_YAML = "/asyncapi.yaml"
ASYNCAPI_JSON = "/asyncapi.json"

# Connexion's extensions naming Python callables: the server's business.
_INTERNAL = frozenset(
    {
        "x-bearerInfoFunc", "x-basicInfoFunc", "x-tokenInfoFunc", "x-apikeyInfoFunc",
        "x-scopeValidateFunc", "x-openapi-router-controller",
    }
)  # fmt: skip


def public(node: Any) -> Any:
    """`node` without the internal extensions, at any depth."""
    if isinstance(node, dict):
        return {k: public(v) for k, v in node.items() if k not in _INTERNAL}
    if isinstance(node, list):
        return [public(v) for v in node]
    return node


class Documents:
    """The served documents, encoded once (per `root_path`)."""

    def __init__(self, openapi_spec: dict[str, Any], asyncapi_file: Path) -> None:
        self._openapi: dict[str, Any] = public(copy.deepcopy(openapi_spec))
        asyncapi_text = asyncapi_file.read_text()
        asyncapi = yaml.safe_load(asyncapi_text)
        self._static: dict[str, tuple[bytes, str]] = {
            ASYNCAPI_YAML: (asyncapi_text.encode(), "application/yaml"),
            ASYNCAPI_JSON: (_json(asyncapi), "application/json"),
        }
        self._by_root: dict[str, dict[str, tuple[bytes, str]]] = {}

    def paths(self) -> frozenset[str]:
        return frozenset({OPENAPI_JSON, OPENAPI_YAML, *self._static})

    def openapi(self, root_path: str = "") -> dict[str, Any]:
        """The spec as served under `root_path`: only `servers` differs from the file."""
        spec: dict[str, Any] = copy.deepcopy(self._openapi)
        spec["servers"] = [
            {"url": f"{root_path.rstrip('/')}/", "description": "this server"},
        ]
        return spec

    def _encoded(self, path: str, root_path: str) -> tuple[bytes, str] | None:
        if path in self._static:
            return self._static[path]
        if path not in (OPENAPI_JSON, OPENAPI_YAML):
            return None
        encoded = self._by_root.get(root_path)
        if encoded is None:
            spec = self.openapi(root_path)
            encoded = {
                OPENAPI_JSON: (_json(spec), "application/json"),
                OPENAPI_YAML: (
                    yaml.safe_dump(spec, sort_keys=False, allow_unicode=True).encode(),
                    "application/yaml",
                ),
            }
            if len(self._by_root) < 8:  # a handful of proxies' prefixes, not unbounded
                self._by_root[root_path] = encoded
        return encoded[path]

    async def serve(self, scope: Scope, send: Send) -> bool:
        """Answer GET/HEAD of a document; False when `scope` is not one."""
        if scope["method"] not in ("GET", "HEAD"):
            return False
        found = self._encoded(scope["path"], str(scope.get("root_path", "")))
        if found is None:
            return False
        body, media_type = found
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", f"{media_type}; charset=utf-8".encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
        return True


def _json(document: dict[str, Any]) -> bytes:
    # YAML turns some scalars (dates) into objects JSON has no type for.
    return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode()
