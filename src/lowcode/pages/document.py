"""The page document and the rules every change must keep. Pure functions:
no I/O, so the WebSocket rooms, the HTTP service and the tests share them.

A document is `{"rootId": id, "components": {id: {id, name, props, children}}}`:
the root exists, every child is a component, no component is its own ancestor.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import jsonpatch
import jsonpointer

from lowcode.pages.errors import InvalidDocument, PageTooLarge, PatchFailed
from lowcode.platform.errors import FieldError

Document = dict[str, Any]
Patch = list[dict[str, Any]]

_PATCH_ERRORS = (
    jsonpatch.JsonPatchException,
    jsonpointer.JsonPointerException,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
)


def new_document(root_name: str = "Page") -> Document:
    root_id = f"root-{uuid.uuid4().hex[:8]}"
    return {
        "rootId": root_id,
        "components": {root_id: {"id": root_id, "name": root_name, "props": {}, "children": []}},
    }


def encoded_size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


def apply_patch(document: Document, patch: Patch) -> Document:
    """A new document with `patch` applied (the input is not modified).
    PatchFailed names the index of the first operation that does not apply."""
    try:
        return jsonpatch.JsonPatch(patch).apply(document, in_place=False)  # type: ignore[no-any-return]
    except _PATCH_ERRORS:
        pass
    # Slow path, only on failure: find which operation broke.
    scratch = copy.deepcopy(document)
    for index, op in enumerate(patch):
        try:
            scratch = jsonpatch.JsonPatch([op]).apply(scratch, in_place=True)
        except _PATCH_ERRORS as e:
            raise PatchFailed(
                f"operation {index} ({op.get('op')} {op.get('path')}) does not apply: {e}",
                opIndex=index,
            ) from e
    raise PatchFailed("the patch does not apply", opIndex=None)


def validate_document(document: Any, max_bytes: int) -> None:
    """Raise PageTooLarge or InvalidDocument (listing every problem)."""
    size = encoded_size(document)
    if size > max_bytes:
        raise PageTooLarge(f"the document is {size} bytes; the limit is {max_bytes}")
    errors = list(_shape_errors(document))
    if errors:
        raise InvalidDocument("; ".join(e.message for e in errors[:5]), errors=errors[:50])


def _shape_errors(document: Any) -> list[FieldError]:
    def err(field: str, message: str) -> FieldError:
        return FieldError(field, message, "body")

    if not isinstance(document, dict):
        return [err("", "the document must be an object")]
    components = document.get("components")
    root_id = document.get("rootId")
    if not isinstance(components, dict):
        return [err("components", "components must be an object keyed by component id")]
    if not isinstance(root_id, str):
        return [err("rootId", "rootId must be a string")]
    errors: list[FieldError] = []
    if root_id not in components:
        errors.append(err("rootId", f"root component {root_id!r} does not exist"))
    for key, comp in components.items():
        where = f"components.{key}"
        if not isinstance(comp, dict):
            errors.append(err(where, "a component must be an object"))
            continue
        if comp.get("id") != key:
            errors.append(err(f"{where}.id", f"id must equal its key {key!r}"))
        if not isinstance(comp.get("name"), str):
            errors.append(err(f"{where}.name", "name must be a string"))
        if not isinstance(comp.get("props", {}), dict):
            errors.append(err(f"{where}.props", "props must be an object"))
        children = comp.get("children", [])
        if not isinstance(children, list):
            errors.append(err(f"{where}.children", "children must be a list of ids"))
            continue
        for i, child in enumerate(children):
            if not isinstance(child, str) or child not in components:
                errors.append(err(f"{where}.children.{i}", f"child {child!r} is not a component"))
    if not errors:
        errors.extend(_cycle_errors(components))
    return errors


def _cycle_errors(components: dict[str, Any]) -> list[FieldError]:
    """Every component may have one parent at most and no component may be its own
    ancestor (a renderer walking the tree would never stop)."""
    parent: dict[str, str] = {}
    for key, comp in components.items():
        for child in comp.get("children", []):
            if child in parent or child == key:
                return [
                    FieldError(
                        f"components.{key}.children",
                        f"component {child!r} has more than one parent or is its own child",
                        "body",
                    )
                ]
            parent[child] = key
    for start in components:
        seen = {start}
        node = start
        while node in parent:
            node = parent[node]
            if node in seen:
                return [FieldError(f"components.{start}", "the components form a cycle", "body")]
            seen.add(node)
    return []
