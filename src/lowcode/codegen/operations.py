"""Every operationId resolves to its handler, and the spec's ProblemCode enum is the
error catalogue — checked by `make generate`.

`python -m lowcode.codegen.operations SPEC ROOT` imports every
`lowcode.<context>.handlers` module and resolves each operationId as the app
does at start-up (`platform/resolver.py`), printing one line per problem:

    api/openapi/openapi.yaml:812:20: operationId createComent: no async function create_coment …

Generation runs it in a child process whose path puts the freshly generated
`lowcode_gen` first, so handlers may already use query types that this very
run creates.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml
from connexion.exceptions import ResolverError

from lowcode.platform.resolver import handler_index, handler_modules, snake_case
from lowcode.platform.sqlfiles import shown

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def operation_ids(spec: Path) -> list[tuple[str, int, int]]:
    """(operationId, line, column) of every operation, from the YAML node marks."""
    root = yaml.compose(spec.read_text())
    found: list[tuple[str, int, int]] = []
    if not isinstance(root, yaml.MappingNode):
        return found
    for key, value in root.value:
        if key.value != "paths" or not isinstance(value, yaml.MappingNode):
            continue
        for _path, item in value.value:
            if not isinstance(item, yaml.MappingNode):
                continue
            for method, op in item.value:
                if method.value not in HTTP_METHODS or not isinstance(op, yaml.MappingNode):
                    continue
                for field, node in op.value:
                    if field.value == "operationId":
                        mark = node.start_mark
                        found.append((str(node.value), mark.line + 1, mark.column + 1))
    return found


def _module_file(name: str, root: Path) -> str:
    spec = importlib.util.find_spec(name)
    return shown(Path(spec.origin), root) if spec and spec.origin else name


def check(spec: Path, root: Path) -> list[str]:
    where = shown(spec, root)
    failed: dict[str, Exception] = {}
    modules = handler_modules(failed)
    problems = [
        f"{_module_file(name, root)}: {name} does not import: {type(e).__name__}: {e}"
        for name, e in sorted(failed.items())
    ]
    try:
        index = handler_index(modules)
    except ResolverError as e:
        return [*problems, f"{where}: {e}"]
    broken = f" ({', '.join(sorted(failed))} did not import)" if failed else ""
    for operation_id, line, col in operation_ids(spec):
        name = snake_case(operation_id)
        if name not in index:
            problems.append(
                f"{where}:{line}:{col}: operationId {operation_id}: no async function {name} "
                f"in any lowcode.<context>.handlers module{broken}"
            )
    return problems


def check_problem_codes(spec: Path, root: Path) -> list[str]:
    """`components.schemas.ProblemCode` lists the error catalogue, in order —
    the union TypeScript clients switch on is the codes the server sends."""
    from lowcode.platform.errors import CATALOG

    document = yaml.safe_load(spec.read_text())
    enum = document.get("components", {}).get("schemas", {}).get("ProblemCode", {}).get("enum")
    if enum == list(CATALOG):
        return []
    enum = enum or []
    missing = [c for c in CATALOG if c not in enum]
    extra = [c for c in enum if c not in CATALOG]
    detail = "; ".join(
        part
        for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"not in the catalogue {', '.join(extra)}" if extra else "",
            "order differs" if not missing and not extra else "",
        )
        if part
    )
    return [
        f"{shown(spec, root)}: components.schemas.ProblemCode is not "
        f"lowcode.platform.errors.CATALOG: {detail}"
    ]


def main() -> None:
    spec, root = Path(sys.argv[1]), Path(sys.argv[2])
    problems = check(spec, root) + check_problem_codes(spec, root)
    # stdout carries the problems; stderr is left to warnings from imports.
    for line in problems:
        print(line)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
