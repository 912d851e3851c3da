"""The OpenAPI spec and the code agree."""

import importlib
import re

import pytest
import yaml
from connexion.exceptions import ResolverError

from lowcode.app import HTTP_METHODS
from lowcode.platform.errors import CATALOG
from lowcode.platform.resolver import HandlerResolver, handler_index, handler_modules, snake_case
from lowcode.settings import PROJECT_ROOT

SPEC = yaml.safe_load((PROJECT_ROOT / "api/openapi/openapi.yaml").read_text())


def operations():
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_spec_is_openapi_3_0_3_as_connexion_requires():
    assert SPEC["openapi"] == "3.0.3"


def test_every_operation_id_is_short_camel_case_and_resolves_to_an_async_handler():
    index = handler_index(handler_modules())
    for path, method, op in operations():
        operation_id = op["operationId"]
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", operation_id), f"{path}: {operation_id}"
        handler = index.get(snake_case(operation_id))
        assert handler is not None, f"{method.upper()} {path}: {operation_id} has no handler"
        assert handler.__module__.endswith(".handlers"), operation_id


def test_every_handler_is_named_by_an_operation():
    used = {snake_case(op["operationId"]) for _, _, op in operations()}
    unused = set(handler_index(handler_modules())) - used
    assert not unused, f"handlers no operation names: {sorted(unused)}"


def test_operation_ids_are_unique():
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids))


def test_a_misspelt_or_duplicated_handler_fails_resolution():
    resolver = HandlerResolver(handler_index(handler_modules()))
    with pytest.raises(ResolverError, match="getPagez"):
        resolver.resolve_function_from_operation_id("getPagez")
    pages = importlib.import_module("lowcode.pages.handlers")
    with pytest.raises(ResolverError, match="defined in both"):
        handler_index([pages, pages])


def test_every_rest_path_is_versioned_or_operational():
    operational = {
        "/health/live",
        "/health/ready",
        "/metrics",
        "/.well-known/jwks.json",
        # OpenFeature Remote Evaluation Protocol: the path is the protocol's.
        "/ofrep/v1/evaluate/flags",
        "/ofrep/v1/evaluate/flags/{key}",
    }
    for path, _, _ in operations():
        assert path.startswith("/api/v1/") or path in operational, path


def test_problem_codes_mentioned_in_the_spec_exist_in_the_catalog():
    text = (PROJECT_ROOT / "api/openapi/openapi.yaml").read_text()
    for code in ("VALIDATION_FAILED", "EMAIL_TAKEN"):
        assert code in text and code in CATALOG


def test_the_routable_tag_enum_is_what_the_legacy_router_computes():
    from lowcode.routing.operations import OperationIndex

    enum = set(SPEC["components"]["schemas"]["RoutableTag"]["enum"])
    assert enum == set(OperationIndex(SPEC).routable_tags)


def test_the_problem_code_enum_is_the_error_catalogue():
    """`ProblemCode` (and so the TypeScript union) lists exactly the catalogue, in order."""
    assert SPEC["components"]["schemas"]["ProblemCode"]["enum"] == list(CATALOG)
    assert SPEC["components"]["schemas"]["Problem"]["properties"]["code"] == {
        "$ref": "#/components/schemas/ProblemCode"
    }


def problem_examples():
    """(where, example) of every problem+json example in the spec."""
    found = []

    def media_examples(where, media):
        if "example" in media:
            found.append((where, media["example"]))
        for name, ex in media.get("examples", {}).items():
            found.append((f"{where} {name}", ex["value"]))

    for name, response in SPEC["components"]["responses"].items():
        media = response.get("content", {}).get("application/problem+json")
        if media:
            media_examples(f"responses/{name}", media)
    for path, method, op in operations():
        for status, response in op.get("responses", {}).items():
            media = response.get("content", {}).get("application/problem+json")
            if media:
                media_examples(f"{method.upper()} {path} {status}", media)
    return found


def test_every_shared_problem_response_has_a_realistic_example():
    for name, response in SPEC["components"]["responses"].items():
        media = response.get("content", {}).get("application/problem+json")
        if media:
            assert "example" in media or media.get("examples"), f"responses/{name} has no example"


def test_problem_examples_match_the_catalogue_and_the_schema():
    from jsonschema import Draft4Validator

    from lowcode.platform.problems import problem_type

    schema = {
        **SPEC["components"]["schemas"]["Problem"],
        "components": SPEC["components"],
    }
    validator = Draft4Validator(schema)
    examples = problem_examples()
    assert len(examples) >= 15
    for where, example in examples:
        code = example["code"]
        assert code in CATALOG, where
        assert example["status"] == CATALOG[code].status, where
        assert example["title"] == CATALOG[code].en, where
        assert example["type"] == problem_type(code), where
        errors = [e.message for e in validator.iter_errors(example)]
        assert not errors, f"{where}: {errors}"


def test_make_generate_reports_a_problem_code_enum_out_of_step(tmp_path):
    from lowcode.codegen.operations import check_problem_codes

    spec = PROJECT_ROOT / "api/openapi/openapi.yaml"
    assert check_problem_codes(spec, PROJECT_ROOT) == []
    stale = tmp_path / "openapi.yaml"
    stale.write_text(
        spec.read_text().replace("        - OP_ID_REUSED\n", "        - OP_ID_REUZED\n")
    )
    [problem] = check_problem_codes(stale, tmp_path)
    assert "missing OP_ID_REUSED" in problem and "not in the catalogue OP_ID_REUZED" in problem


def test_every_operation_with_a_body_documents_413():
    # The body guard refuses a body over its route's cap before it is read
    # (found missing on several operations by `make fuzz`).
    missing = [
        f"{method.upper()} {path}"
        for path, method, op in operations()
        if "requestBody" in op and "413" not in op["responses"]
    ]
    assert missing == []
