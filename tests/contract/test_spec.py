"""The OpenAPI spec and the code agree."""

import importlib

import yaml

from lowcode.app import HTTP_METHODS
from lowcode.platform.errors import CATALOG
from lowcode.settings import PROJECT_ROOT

SPEC = yaml.safe_load((PROJECT_ROOT / "api/openapi/openapi.yaml").read_text())


def operations():
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_spec_is_openapi_3_0_3_as_connexion_requires():
    assert SPEC["openapi"] == "3.0.3"


def test_every_operation_id_resolves_to_an_async_handler():
    for path, method, op in operations():
        module_name, _, func_name = op["operationId"].rpartition(".")
        module = importlib.import_module(module_name)
        handler = getattr(module, func_name, None)
        assert handler is not None, f"{method.upper()} {path}: {op['operationId']} missing"
        assert module_name.endswith(".handlers"), op["operationId"]
        assert importlib.import_module("inspect").iscoroutinefunction(handler), op["operationId"]


def test_every_rest_path_is_versioned_or_operational():
    operational = {"/health/live", "/health/ready", "/metrics", "/.well-known/jwks.json"}
    for path, _, _ in operations():
        assert path.startswith("/api/v1/") or path in operational, path


def test_problem_codes_mentioned_in_the_spec_exist_in_the_catalog():
    text = (PROJECT_ROOT / "api/openapi/openapi.yaml").read_text()
    for code in ("VALIDATION_FAILED", "EMAIL_TAKEN"):
        assert code in text and code in CATALOG
