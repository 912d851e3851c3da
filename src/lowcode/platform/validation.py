"""Connexion validators that report every problem of a request, not just the first.

Connexion stops at the first failing rule; clients fixing a form want all of
them at once, so these subclasses collect every error into
`RequestValidationProblem.errors`.
"""

from __future__ import annotations

import re
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import ExtraParameterProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, FormatChecker, ValidationError

from lowcode.platform.errors import FieldError
from lowcode.platform.problems import RequestValidationProblem

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
    return [FieldError(_field(e, prefix), e.message, location) for e in found]


class AllErrorsBodyValidator(JSONRequestBodyValidator):
    @property
    def _validator(self) -> Any:
        return Draft4RequestValidator(self._schema, format_checker=FORMAT_CHECKER)

    def _validate(self, body: Any) -> dict[str, Any] | None:
        if not self._nullable and body is None:
            raise RequestValidationProblem([FieldError("", "request body must not be empty")])
        errors = _errors(self._validator, body, "body")
        if errors:
            raise RequestValidationProblem(errors)
        return None


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
                errors.extend(self._check(location, param, get(param["name"])))
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
        validator = Draft4Validator(schema, format_checker=FORMAT_CHECKER)
        return _errors(validator, value, location, prefix=name)


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
