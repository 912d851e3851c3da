"""The spec's operations as the legacy router sees them: which tags each has
and which path parameter names its workspace.

Built once from the OpenAPI document at start-up. The router matches paths
itself because it runs before Connexion (a routed request never reaches it);
the fallback, which runs after, reads the operation Connexion matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

# Path parameters that name a workspace, directly or through a lookup
# (`resolve.LOOKUPS`), in order of preference. A context whose paths name its
# own resources (datasets, sync jobs…) becomes routable by adding its lookup.
WORKSPACE_PARAMS = ("workspace_id", "page_id", "datasource_id", "dataset_id", "job_id", "run_id")

# Tags about this service itself: never served by the legacy backend.
NEVER_LEGACY = frozenset({"admin", "health", "flags"})

_PARAM = re.compile(r"\{([^/{}]+)\}")


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    template: str
    tags: frozenset[str]
    # The path parameter naming the operation's workspace, if any.
    workspace_param: str | None


def _pattern(template: str, prefix: str = "") -> str:
    parts, last = [], 0
    for m in _PARAM.finditer(template):
        parts.append(re.escape(template[last : m.start()]))
        parts.append(f"(?P<{prefix}{m.group(1)}>[^/]+)")
        last = m.end()
    parts.append(re.escape(template[last:]))
    return "".join(parts)


class _MethodTable:
    """All operations of one method in a single regex: one match per request
    instead of one per operation (the router runs on every request while any
    workspace is routed). Alternatives are tried in order, fewer parameters first."""

    def __init__(self, ops: list[Operation]) -> None:
        self.ops = {f"o{i}": op for i, op in enumerate(ops)}
        self.params = {
            f"o{i}": [(f"o{i}_{p}", p) for p in _PARAM.findall(op.template)]
            for i, op in enumerate(ops)
        }
        alternatives = (f"(?P<o{i}>{_pattern(op.template, f'o{i}_')})" for i, op in enumerate(ops))
        self.regex = re.compile("^(?:" + "|".join(alternatives) + ")$")

    def match(self, path: str) -> tuple[Operation, dict[str, str]] | None:
        m = self.regex.match(path)
        if m is None:
            return None
        # The alternative's own group closes after its parameters: it is the last.
        name = m.lastgroup
        assert name is not None
        return self.ops[name], {p: m.group(g) for g, p in self.params[name]}


class OperationIndex:
    def __init__(self, spec: dict[str, Any]) -> None:
        ops: list[Operation] = []
        for template, item in spec.get("paths", {}).items():
            params = set(_PARAM.findall(template))
            ws = next((p for p in WORKSPACE_PARAMS if p in params), None)
            for method, op in item.items():
                if method not in HTTP_METHODS or "operationId" not in op:
                    continue
                ops.append(
                    Operation(
                        op["operationId"],
                        method.upper(),
                        template,
                        frozenset(op.get("tags", ())),
                        ws,
                    )
                )
        self.by_id = {o.operation_id: o for o in ops}
        # Fewer parameters first, so `/admin/jobs/stats` wins over `/admin/jobs/{job_id}`.
        ops.sort(key=lambda o: len(_PARAM.findall(o.template)))
        by_method: dict[str, list[Operation]] = {}
        for o in ops:
            by_method.setdefault(o.method, []).append(o)
        self._by_method = {m: _MethodTable(o) for m, o in by_method.items()}
        self.all_tags = frozenset(t for o in ops for t in o.tags)
        # A tag can be routed when some operation of it names a workspace.
        self.routable_tags = (
            frozenset(t for o in ops if o.workspace_param for t in o.tags) - NEVER_LEGACY
        )

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation a request is for, and its path parameters."""
        # Connexion (Starlette) answers HEAD with the GET operation.
        table = self._by_method.get("GET" if method == "HEAD" else method)
        return None if table is None else table.match(path)

    def legacy_tags_of(self, operation_id: str | None) -> frozenset[str]:
        """The tags of an operation that the legacy backend may serve."""
        op = self.by_id.get(operation_id or "")
        return op.tags & self.routable_tags if op else frozenset()
