"""Connexion validators that report every problem of a request, not just the first.

Connexion stops at the first failing rule; clients fixing a form want all of
them at once, so these subclasses collect every error into
`RequestValidationProblem.errors`.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, ExtraParameterProblem
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, FormatChecker, ValidationError

from lowcode.platform import jsoninput
from lowcode.platform.errors import FieldError
from lowcode.platform.problems import RequestValidationProblem
from lowcode.platform.request_context import STATE_SETTINGS

DEFAULT_JSON_MAX_DEPTH = 64
STATE_BODY = "lowcode.body"


def validated_body(request: Any) -> Any:
    """The request's JSON body as the body validator parsed and checked it."""
    return request.scope["state"][STATE_BODY]


_REQUIRED = re.compile(r"^'(.+)' is a required property$")

# Draft 4's checker knows no `uuid`; ids in paths and bodies must be checked
# here, not fail later in a handler.
FORMAT_CHECKER = FormatChecker(["email", "uuid", "ipv4", "ipv6", "regex"])


def _field(error: ValidationError, prefix: str = "") -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required" and (m := _REQUIRED.match(error.message)):
        parts.append(m.group(1))
    path = ".".join(parts)
    return f"{prefix}.{path}" if prefix and path else (prefix or path)


def _errors(validator: Any, value: Any, location: str, prefix: str = "") -> list[FieldError]:
    found = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return [FieldError(_field(e, prefix), _masked(e), location) for e in found]


def _masked(error: ValidationError) -> str:
    """jsonschema's message without the submitted value (it says `'hunter2' is
    too short`): a problem body, and so the access log, never echoes input."""
    if error.validator == "required":
        return str(error.message)  # names the missing property, not a value
    return str(error.message).replace(repr(error.instance), "the value")


class AllErrorsBodyValidator(JSONRequestBodyValidator):
    """JSON bodies: parsed strictly (`jsoninput`: UTF-8, a nesting limit, no
    NaN), then checked against the operation's schema with jsonschema-rs.

    jsonschema-rs rather than the Python jsonschema Connexion uses: it is about
    a hundred times faster (a 2 MiB page document took over a second of event
    loop in Python, milliseconds here), its validator is built once per
    operation instead of per request, it masks submitted values in messages
    (no password echoed into a problem or the access log), and schemathesis
    judges formats with the same library, so the server and the fuzzer agree
    on what an `email` is.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._compiled = _compiled(self._schema)
        self._absent = True  # no body bytes at all (as opposed to `null`)

    async def _parse(self, stream: Any, scope: Any) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        self._absent = not raw
        if not raw:
            return None
        try:
            body = jsoninput.parse(raw, _max_depth(scope))
        except jsoninput.InvalidJson as e:
            raise BadRequestProblem(detail=str(e)) from e
        # Kept for handlers of large bodies (page documents), which read it
        # here rather than have Connexion parse the same megabytes again.
        scope.setdefault("state", {})[STATE_BODY] = body
        return body

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if body is None and not self._required and self._absent:
            return None  # an optional body left out (an explicit `null` is checked)
        if not self._nullable and body is None:
            raise RequestValidationProblem([FieldError("", "request body must not be empty")])
        found = sorted(
            self._compiled.iter_errors(body), key=lambda e: [str(p) for p in e.instance_path]
        )
        if found:
            raise RequestValidationProblem([_field_error(e) for e in found])
        return None


def _field_error(error: Any) -> FieldError:
    """One body problem; a `oneOf`/`anyOf` that no branch satisfies says what
    each allowed form would need, instead of only that none fits."""
    branches = getattr(error.kind, "context", None)
    if isinstance(error.kind, (error.kind.OneOfNotValid, error.kind.AnyOf)) and branches:
        forms = [
            "; ".join(f"{_rs_field(e) or '(body)'}: {e.message}" for e in branch)
            for branch in branches
        ]
        message = "fits none of the allowed forms: " + " | or | ".join(
            f"({i}) {form}" for i, form in enumerate(forms, 1)
        )
        return FieldError(_rs_field(error), message, "body")
    return FieldError(_rs_field(error), error.message, "body")


def _max_depth(scope: Any) -> int:
    settings = (scope.get("state") or {}).get(STATE_SETTINGS)
    return int(settings.json_max_depth) if settings is not None else DEFAULT_JSON_MAX_DEPTH


def _rs_field(error: Any) -> str:
    parts = [str(p) for p in error.instance_path]
    prop = getattr(error.kind, "property", None)
    if isinstance(prop, str):
        parts.append(prop)
    return ".".join(parts)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Body schemas are long-lived objects of the loaded spec (one per operation);
# the compiled validator is kept beside the schema it was built from.
_COMPILED: dict[int, tuple[dict[str, Any], Any]] = {}


def _compiled(schema: dict[str, Any]) -> Any:
    entry = _COMPILED.get(id(schema))
    if entry is None or entry[0] is not schema:
        validator = jsonschema_rs.Draft4Validator(
            _openapi_to_draft4(schema, {}),
            validate_formats=True,
            formats={"uuid": lambda value: _UUID.fullmatch(value) is not None},
            mask="the value",
        )
        entry = _COMPILED[id(schema)] = (schema, validator)
    return entry[1]


def _openapi_to_draft4(node: Any, memo: dict[int, Any]) -> Any:
    """OpenAPI 3.0's `nullable: true` as Draft 4 says it (what Connexion's own
    request validator allows: null for `type` and `enum`)."""
    if isinstance(node, list):
        return [_openapi_to_draft4(item, memo) for item in node]
    if not isinstance(node, dict):
        return node
    if id(node) in memo:
        return memo[id(node)]
    out: dict[str, Any] = {}
    memo[id(node)] = out
    for key, value in node.items():
        out[key] = _openapi_to_draft4(value, memo)
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


class AllErrorsParameterValidator(ParameterValidator):
    def validate_request(self, request: Any) -> None:
        if self.strict_validation:
            extra = self.validate_query_parameter_list(
                request, security_params=self.security_query_params
            )
            if extra:
                raise ExtraParameterProblem(param_type="query", extra_params=extra)
        getters = {
            "query": lambda name: request.query_params.get(name),
            "path": lambda name: request.path_params.get(name.replace("-", "_")),
            "header": lambda name: request.headers.get(name),
            "cookie": lambda name: request.cookies.get(name),
        }
        errors: list[FieldError] = []
        for location, get in getters.items():
            for param in self.parameters.get(location, []):
                value = get(param["name"])
                if isinstance(value, str) and "\x00" in value:
                    errors.append(FieldError(param["name"], jsoninput.NUL_MESSAGE, location))
                    continue
                errors.extend(self._check(location, param, value))
        if errors:
            raise RequestValidationProblem(errors)

    @staticmethod
    def _check(location: str, param: dict[str, Any], value: Any) -> list[FieldError]:
        name = param["name"]
        if value is None:
            if param.get("required"):
                return [FieldError(name, f"missing {location} parameter", location)]
            return []
        schema = param.get("schema", param)
        if schema.get("nullable") and value in ("", "null"):
            return []
        known = (id(schema), value) if isinstance(value, str) else None
        if known is not None and known in _VALID_VALUES:
            return []
        errors = _errors(_parameter_validator(schema), value, location, prefix=name)
        if known is not None and not errors:
            if len(_VALID_VALUES) >= VALID_VALUES_MAX:
                _VALID_VALUES.clear()
            _VALID_VALUES.add(known)
        return errors


# Parameter values found valid, by schema: the same ids arrive again and again,
# and a valid value stays valid for its (long-lived) schema.
VALID_VALUES_MAX = 20_000
_VALID_VALUES: set[tuple[int, str]] = set()

# Like `_COMPILED`: parameter schemas live as long as the loaded spec.
_PARAMETER_VALIDATORS: dict[int, tuple[dict[str, Any], Draft4Validator]] = {}


def _parameter_validator(schema: dict[str, Any]) -> Draft4Validator:
    entry = _PARAMETER_VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        validator = Draft4Validator(schema, format_checker=FORMAT_CHECKER)
        entry = _PARAMETER_VALIDATORS[id(schema)] = (schema, validator)
    return entry[1]


VALIDATORS: dict[str, Any] = {
    **VALIDATOR_MAP,
    "parameter": AllErrorsParameterValidator,
    "body": MediaTypeDict(
        {
            **dict(VALIDATOR_MAP["body"]),
            "*/*json": AllErrorsBodyValidator,
        }
    ),
}
