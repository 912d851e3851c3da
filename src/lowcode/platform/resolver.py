"""operationId → handler: short camelCase ids in the spec, snake_case functions in code.

The spec names operations the way its readers (frontend developers, Swagger
deep links, generated TypeScript) want them: `getPage`, `patchPage`. The
handler is the async function of the same name in snake_case (`get_page`),
defined in one of the contexts' `handlers` modules. The index is built once
from those modules, so a name that is missing or defined twice fails at start-up
(and in `make generate`) with the operationId, not at the first request.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterable
from types import FunctionType, ModuleType
from typing import Any

from connexion.context import context
from connexion.exceptions import ResolverError
from connexion.resolver import Resolution, Resolver

import lowcode

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_case(operation_id: str) -> str:
    """`getPage` → `get_page`, `listOfrepFlags` → `list_ofrep_flags`."""
    return _BOUNDARY.sub("_", operation_id).lower()


def handler_modules(failed: dict[str, Exception] | None = None) -> list[ModuleType]:
    """Every context's `handlers` module (`lowcode.<context>.handlers`).

    With `failed`, a module that does not import is recorded there (name →
    exception) instead of raising, so `make generate` can report them all.
    """
    modules = []
    for info in pkgutil.iter_modules(lowcode.__path__):
        if info.ispkg:
            name = f"lowcode.{info.name}.handlers"
            try:
                modules.append(importlib.import_module(name))
            except ModuleNotFoundError as e:
                if e.name == name:
                    continue
                if failed is None:
                    raise
                failed[name] = e
            except Exception as e:
                if failed is None:
                    raise
                failed[name] = e
    return modules


def handler_index(modules: Iterable[ModuleType]) -> dict[str, Callable[..., Any]]:
    """snake_case name → the public coroutine function of that name; duplicates fail."""
    index: dict[str, Callable[..., Any]] = {}
    where: dict[str, str] = {}
    for module in modules:
        for name, fn in vars(module).items():
            # FunctionType first: handler modules hold proxies (connexion's
            # `request`) that fail on any attribute access outside a request.
            if name.startswith("_") or not isinstance(fn, FunctionType):
                continue
            if not inspect.iscoroutinefunction(fn):
                continue
            if fn.__module__ != module.__name__:
                continue  # imported from elsewhere, not this context's handler
            if name in index:
                raise ResolverError(
                    f"handler {name!r} is defined in both {where[name]} and {module.__name__}"
                )
            index[name] = fn
            where[name] = module.__name__
    return index


def requires_admin(security: list[dict[str, list[str]]] | None) -> bool:
    return any("admin" in (req.get("bearerAuth") or []) for req in security or [])


def admin_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The handler of an `[admin]` operation, checking the role itself as well:
    defence in depth should the security handler ever not see the operation's
    scopes. The signature stays the handler's (Connexion reads `__wrapped__`)."""

    @functools.wraps(fn)
    async def handler(*args: Any, **kwargs: Any) -> Any:
        from lowcode.platform.errors import Forbidden

        info = context.get("token_info") or {}
        if info.get("role") != "admin":
            raise Forbidden("requires the admin role")
        return await fn(*args, **kwargs)

    return handler


class HandlerResolver(Resolver):  # type: ignore[misc]
    """Connexion's resolver with the function looked up in the handler index;
    handlers of admin operations check the caller's role themselves too."""

    def __init__(self, index: dict[str, Callable[..., Any]] | None = None) -> None:
        super().__init__()
        self.index = index if index is not None else handler_index(handler_modules())

    def resolve(self, operation: Any) -> Resolution:
        resolution = super().resolve(operation)
        if requires_admin(getattr(operation, "security", None)):
            return Resolution(admin_only(resolution.function), resolution.operation_id)
        return resolution

    def resolve_function_from_operation_id(self, operation_id: str) -> Callable[..., Any]:
        name = snake_case(operation_id)
        try:
            return self.index[name]
        except KeyError:
            raise ResolverError(
                f"operationId {operation_id!r}: no async function {name!r} "
                "in any lowcode.<context>.handlers module"
            ) from None
