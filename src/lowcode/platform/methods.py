"""Which HTTP methods each path of the spec allows: `Allow` on every 405 and
the answer to `OPTIONS`.

Connexion routes each (path, method) separately, so a 405 from its router
names only the methods of the first route that matched the path (RFC 9110
wants all of them), and `OPTIONS` on a known path was a 405 too.
"""

from __future__ import annotations

import re
from typing import Any

SPEC_METHODS = ("get", "put", "post", "delete", "patch")


class MethodIndex:
    def __init__(self, spec: dict[str, Any]) -> None:
        routes: list[tuple[int, re.Pattern[str], tuple[str, ...]]] = []
        for template, item in spec.get("paths", {}).items():
            methods = [m.upper() for m in SPEC_METHODS if m in item]
            if "GET" in methods:
                methods.append("HEAD")  # Starlette answers HEAD wherever GET is routed
            methods.append("OPTIONS")
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            routes.append((template.count("{"), re.compile(pattern), tuple(methods)))
        # Most specific first: `/users/me` before `/users/{user_id}`.
        self._routes = [(p, m) for _, p, m in sorted(routes, key=lambda r: r[0])]

    def allow(self, path: str) -> tuple[str, ...] | None:
        """The methods of the most specific spec path matching `path`, or None."""
        for pattern, methods in self._routes:
            if pattern.fullmatch(path):
                return methods
        return None
