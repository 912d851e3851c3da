"""The generated TypeScript types accept what the server accepts, under `tsc --strict`.

`tests/ts/` holds the type tests a frontend developer would write: a strict
openapi-fetch client (`client.ts`: a `{name}` workspace create, a switch over
`ProblemCode`, the 409 → retry at `currentVersion` flow, a restore without a
body) and a WebSocket client typed by `generated/ts/collab.d.ts`
(`collab.ts`). Beside them, a file built here from the spec gives the minimal
valid request body of every operation (required properties only, each
checked against the spec's schema first) to the generated types.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator

from lowcode.app import HTTP_METHODS
from lowcode.platform.validation import FORMAT_CHECKER
from lowcode.settings import PROJECT_ROOT

TSC = PROJECT_ROOT / "node_modules" / ".bin" / "tsc"
SPEC = yaml.safe_load((PROJECT_ROOT / "api/openapi/openapi.yaml").read_text())

# `make install` provides it; without it this fails, it is never skipped.
assert TSC.exists(), "node_modules missing: run make install"


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(TSC), "-p", str(project)], capture_output=True, text=True, env=env, timeout=300
    )


def copy_tree(tmp_path: Path) -> Path:
    """The type tests and the generated types, laid out as in the repo."""
    for rel in ("tests/ts", "generated/ts"):
        shutil.copytree(PROJECT_ROOT / rel, tmp_path / rel)
    (tmp_path / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    return tmp_path / "tests/ts"


def test_the_type_tests_compile_under_strict():
    result = tsc(PROJECT_ROOT / "tests/ts")
    assert result.returncode == 0, result.stdout + result.stderr


def tsc_after_edit(
    tmp_path: Path, name: str, old: str, new: str
) -> subprocess.CompletedProcess[str]:
    """tsc over a copy of the type tests in which `name` has `old` replaced by `new`."""
    ts = copy_tree(tmp_path)
    text = (ts / name).read_text()
    assert old in text
    (ts / name).write_text(text.replace(old, new))
    return tsc(ts)


def test_a_misspelt_problem_code_does_not_compile(tmp_path: Path):
    result = tsc_after_edit(
        tmp_path, "client.ts", 'case "VERSION_CONFLICT":', 'case "VERSION_CONFLIT":'
    )
    assert result.returncode != 0
    assert "TS2678" in result.stdout and "VERSION_CONFLIT" in result.stdout, result.stdout


def test_a_misspelt_frame_type_does_not_compile(tmp_path: Path):
    result = tsc_after_edit(tmp_path, "collab.ts", 'case "user-join":', 'case "user-joined":')
    assert result.returncode != 0
    assert "TS2678" in result.stdout and "user-joined" in result.stdout, result.stdout


def test_a_required_field_left_out_does_not_compile(tmp_path: Path):
    """The check has teeth: `{}` is no WorkspaceCreate (`name` is required)."""
    result = tsc_after_edit(tmp_path, "client.ts", '= { name: "Sales" };', "= {};")
    assert result.returncode != 0
    assert "'name' is missing" in result.stdout, result.stdout


# ---- the minimal request of every operation ---------------------------------------


def _lookup(ref: str) -> Any:
    node: Any = SPEC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _lookup(node["$ref"])
    return node


def minimal(schema: Any) -> Any:
    """The smallest value the schema accepts: required properties only."""
    schema = deref(schema)
    if "example" in schema and schema.get("type") not in ("object", "array"):
        return schema["example"]
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    for key in ("oneOf", "anyOf"):
        if key in schema and "properties" not in schema:
            return minimal(schema[key][0])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = minimal(part)
            if isinstance(value, dict):
                merged.update(value)
            else:
                return value
        return merged
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        names = list(schema.get("required", []))
        # `oneOf: [{required: [a]}, {required: [b]}]` beside the properties: the first form.
        for branch in schema.get("oneOf", [])[:1]:
            names += [n for n in deref(branch).get("required", []) if n not in names]
        # `minProperties`: the first optional properties, in spec order.
        names += [n for n in props if n not in names][: schema.get("minProperties", 0) - len(names)]
        return {name: minimal(props[name]) for name in names}
    if kind == "array":
        return [minimal(schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1.0, float(schema.get("minimum", 1)))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            return "3f2a6c1e-9b7d-4e2a-8c5f-1a2b3c4d5e6f"
        if fmt == "email":
            return "ada@example.com"
        if fmt == "date-time":
            return "2026-11-22T10:00:00Z"
        return "x" * max(1, schema.get("minLength", 1))
    return {}


def draft4(node: Any) -> Any:
    """The schema, refs inlined, `nullable` spelled as Draft 4 types."""
    node = deref(node)
    if isinstance(node, list):
        return [draft4(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: draft4(v) for k, v in node.items() if k not in ("example", "discriminator")}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def json_bodies() -> list[tuple[str, dict[str, Any], bool]]:
    found = []
    for item in SPEC["paths"].values():
        for method, op in item.items():
            if method not in HTTP_METHODS or "requestBody" not in op:
                continue
            body = deref(op["requestBody"])
            media = body["content"].get("application/json")
            if media is not None:
                found.append((op["operationId"], media["schema"], body.get("required", False)))
    return found


def test_the_minimal_valid_request_of_every_operation_compiles(tmp_path: Path):
    bodies = json_bodies()
    assert len(bodies) > 20
    lines = [
        'import type { operations } from "../../generated/ts/api";',
        "type JsonBody<K extends keyof operations> = NonNullable<",
        '  operations[K]["requestBody"]',
        '> extends { content: { "application/json": infer B } } ? B : never;',
        "type Optional<K extends keyof operations> = undefined extends operations[K]"
        '["requestBody"] ? true : false;',
    ]
    for operation_id, schema, required in bodies:
        value = minimal(schema)
        errors = list(
            Draft4Validator(draft4(schema), format_checker=FORMAT_CHECKER).iter_errors(value)
        )
        assert not errors, f"{operation_id}: minimal body {value!r}: {errors[0].message}"
        name = re.sub(r"\W", "_", operation_id)
        lines.append(f"export const {name}: JsonBody<{operation_id!r}> = {json.dumps(value)};")
        # `required: false` in the spec is an optional body in the types.
        lines.append(
            f"export const {name}_optional: Optional<{operation_id!r}> = "
            f"{'false' if required else 'true'};"
        )
    ts = copy_tree(tmp_path)
    (ts / "minimal.ts").write_text("\n".join(lines).replace("'", '"') + "\n")
    config = ts / "tsconfig.json"
    config.write_text(re.sub(r'"files": \[[^\]]*\]', '"files": ["minimal.ts"]', config.read_text()))
    result = tsc(ts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_minimal_bodies_are_not_vacuous():
    """`minimal` builds what a schema needs, so a body it builds can fail."""
    schema = copy.deepcopy(deref(SPEC["components"]["schemas"]["PatchRequest"]))
    value = minimal(schema)
    assert set(value) == {"baseVersion", "patches", "opId"} and len(value["patches"]) == 1
    assert list(Draft4Validator(draft4(schema)).iter_errors({"baseVersion": 1}))
