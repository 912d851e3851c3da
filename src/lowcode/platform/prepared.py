"""Connexion with its per-operation work done once at start-up.

Connexion 3.3 repeats, on every request, work that only depends on the
operation: `AsyncOperation.fn` builds a new decorator chain per call (and the
parameter decorator runs `inspect.signature` on the handler each time), the
request validation middleware builds a URI parser and a parameter validator
per call (and the handler's path and query parameters are then parsed a
second time), and the security handler inspects the security function's
signature twice per call. Together about a fifth of a short read's CPU time.
The subclasses here build those objects once per operation and reuse them;
every behaviour (parameters, bodies, responses, problems) stays Connexion's.

They rely on Connexion internals, so the version is pinned (`CONNEXION_VERSION`,
checked at import and in `tests/unit/test_prepared_connexion.py`), and the
tests compare each prepared piece with the stock one.

Used through public extension points only: `AsyncApp(middlewares=[...])` with
`PreparedRequestValidationMiddleware` in the stock one's place, `security_map`
with `PreparedBearerSecurityHandler`, and `PreparedAsyncApp`, an `AsyncApp`
whose inner app makes `PreparedOperation`s.
"""

from __future__ import annotations

import functools
import typing as t
from importlib.metadata import version

from connexion import AsyncApp
from connexion.apps.abstract import AbstractApp
from connexion.apps.asynchronous import AsyncApi, AsyncASGIApp, AsyncOperation
from connexion.decorators import StarletteDecorator
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.operations import AbstractOperation
from connexion.security import BearerSecurityHandler
from connexion.utils import inspect_function_arguments
from starlette.routing import BaseRoute, Mount
from starlette.types import Receive, Scope, Send

CONNEXION_VERSION = "3.3.0"
# The request parsed during parameter validation, handed to the operation.
STATE_REQUEST = "lowcode.connexion_request"
if version("connexion") != CONNEXION_VERSION:  # pragma: no cover - guards an upgrade
    raise RuntimeError(
        f"lowcode.platform.prepared subclasses Connexion {CONNEXION_VERSION} internals; "
        f"connexion {version('connexion')} is installed: re-check them and the pin"
    )


class _PreparedDecorator(StarletteDecorator):  # type: ignore[misc]
    """`StarletteDecorator` that decorates the handler once, not per call, and
    takes the operation's URI parser built once."""

    def __init__(self, *, uri_parser: t.Any, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._uri_parser = uri_parser

    def __call__(self, function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        decorated = self.decorate(function)
        get_request = self.framework.get_request
        parser = self._uri_parser

        async def wrapper(scope: Scope, receive: Receive) -> t.Any:
            # The request the parameter validation parsed, when it was this one's.
            request = scope.get("state", {}).pop(STATE_REQUEST, None)
            if request is None or request.scope is not scope:
                request = get_request(uri_parser=parser, scope=scope, receive=receive)
            return await decorated(request)

        return wrapper


class PreparedOperation(AsyncOperation):  # type: ignore[misc]
    """`AsyncOperation` whose decorated handler is built at start-up."""

    def __init__(self, fn: t.Callable[..., t.Any], *, uri_parser: t.Any, **kwargs: t.Any) -> None:
        super().__init__(fn, **kwargs)
        self._prepared = _PreparedDecorator(
            uri_parser=uri_parser, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )(fn)

    @classmethod
    def from_operation(
        cls, operation: AbstractOperation, *, pythonic_params: bool, jsonifier: Jsonifier
    ) -> PreparedOperation:
        return cls(
            operation.function,
            uri_parser=operation.uri_parser_class(
                operation.parameters, operation.body_definition()
            ),
            jsonifier=jsonifier,
            operation_id=operation.operation_id,
            pythonic_params=pythonic_params,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> t.Any:
        response = await self._prepared(scope, receive)
        return await response(scope, receive, send)


class _PreparedApi(AsyncApi):  # type: ignore[misc]
    def make_operation(self, operation: AbstractOperation) -> PreparedOperation:
        return PreparedOperation.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


class _PreparedASGIApp(AsyncASGIApp):  # type: ignore[misc]
    api_cls = _PreparedApi


class PreparedAsyncApp(AsyncApp):  # type: ignore[misc]
    """`AsyncApp` (same arguments) routing to `PreparedOperation`s."""

    def __init__(self, import_name: str, **kwargs: t.Any) -> None:
        # AsyncApp.__init__ only creates its inner app, then runs AbstractApp's.
        self._middleware_app = _PreparedASGIApp()
        AbstractApp.__init__(self, import_name, **kwargs)


class PreparedRequestValidationOperation(RequestValidationOperation):  # type: ignore[misc]
    """Parameters validated by a validator built once per operation (the stock
    operation builds a URI parser and a validator on every request). Bodies
    keep a validator per request: body validators hold per-request state."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        op = self._operation
        self._uri_parser = op._uri_parser_class(op.parameters, op.body_definition())
        self._parameter_validator = self._validator_map["parameter"](
            op.parameters,
            uri_parser=self._uri_parser,
            strict_validation=self.strict_validation,
            security_query_params=self.security_query_params,
        )
        self._has_body = bool(op.request_body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._has_body or self._operation.consumes:
            # Content types and bodies: the stock path (it validates the
            # parameters too, with a validator of its own).
            await super().__call__(scope, receive, send)
            return
        # `ParameterValidator.validate(scope)`, keeping the parsed request for
        # the handler's arguments: path and query parameters parsed once.
        request = ConnexionRequest(scope, receive, uri_parser=self._uri_parser)
        self._parameter_validator.validate_request(request)
        scope.setdefault("state", {})[STATE_REQUEST] = request
        await self.next_app(scope, receive, send)


class _PreparedRequestValidationAPI(RequestValidationAPI):  # type: ignore[misc]
    def make_operation(self, operation: AbstractOperation) -> PreparedRequestValidationOperation:
        return PreparedRequestValidationOperation(
            self.next_app,
            operation=operation,
            strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )


class PreparedRequestValidationMiddleware(RequestValidationMiddleware):  # type: ignore[misc]
    api_cls = _PreparedRequestValidationAPI


@functools.cache
def _arguments(func: t.Callable[..., t.Any]) -> tuple[frozenset[str], bool]:
    arguments, has_kwargs = inspect_function_arguments(func)
    return frozenset(arguments), has_kwargs


class PreparedBearerSecurityHandler(BearerSecurityHandler):  # type: ignore[misc]
    """The bearer handler with the security function's signature read once."""

    @staticmethod
    def _accepts_kwarg(func: t.Callable[..., t.Any], keyword: str) -> bool:
        arguments, has_kwargs = _arguments(func)
        return has_kwargs or keyword in arguments


class PreparedSwaggerUIMiddleware(SwaggerUIMiddleware):  # type: ignore[misc]
    """Requests outside the Swagger UI and spec paths go straight on (the stock
    middleware runs every request through a Starlette router first)."""

    _prefixes: tuple[str, ...] = ()

    def add_api(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        result = super().add_api(*args, **kwargs)
        self._prefixes = tuple(sorted(set(static_prefixes(self.router.routes))))
        return result

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(self._prefixes):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def static_prefixes(routes: t.Iterable[BaseRoute], base: str = "") -> t.Iterator[str]:
    """The static start of every path these routes (and mounted ones) serve."""
    for route in routes:
        path = base + str(getattr(route, "path", ""))
        if isinstance(route, Mount):
            yield from static_prefixes(route.routes, path)
        else:
            yield path.split("{", 1)[0]


_REPLACED = {
    RequestValidationMiddleware: PreparedRequestValidationMiddleware,
    SwaggerUIMiddleware: PreparedSwaggerUIMiddleware,
}


def middlewares() -> list[t.Any]:
    """Connexion's default stack, with the prepared pieces in their places."""
    return [_REPLACED.get(m, m) for m in ConnexionMiddleware.default_middlewares]


SECURITY_MAP = {"bearer": PreparedBearerSecurityHandler}
