"""The page document and the rules every change must keep. Pure functions:
no I/O, so the WebSocket rooms, the HTTP service and the tests share them.

A document is `{"rootId": id, "components": {id: {id, name, props, children}}}`:
the root exists, every child is a component, no component is its own ancestor.

Every write path bounds its cost with `DocumentLimits`: `apply_patch` charges
each operation the bytes it copies, compares or measures against a work budget
and refuses growth past the size limit *before* the operation runs (a patch of
`copy` ops doubling the document must not get the chance to allocate
gigabytes); `validate_document` is one O(n) pass with caps on component count
and tree depth. JSON nesting is capped at parse time for every input and, per
operation, for what a patch inserts, so the recursive code below (deepcopy,
encoders) never meets a document deeper than `max_json_depth`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import jsonpatch
import jsonpointer

from lowcode.pages.errors import InvalidDocument, PageTooLarge, PatchFailed, PatchTooCostly
from lowcode.platform import jsoncodec
from lowcode.platform.errors import FieldError
from lowcode.platform.jsoninput import json_depth

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
    RecursionError,
)

# Bytes charged for an operation that moves no data (a remove, a pointer walk).
_OP_BASE_COST = 64


class _LimitSettings(Protocol):
    page_max_bytes: int
    page_max_components: int
    page_max_tree_depth: int
    json_max_depth: int
    page_patch_max_work_bytes: int


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """What a page document may be, and what applying one patch may cost."""

    max_bytes: int = 2 * 1024 * 1024
    max_components: int = 10_000
    max_tree_depth: int = 100
    max_json_depth: int = 64
    # Bytes one patch may copy, compare or measure. Growth is checked per op,
    # so this only bounds patches that churn (copy, remove, copy again…).
    max_patch_work_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: _LimitSettings) -> DocumentLimits:
        return cls(
            max_bytes=settings.page_max_bytes,
            max_components=settings.page_max_components,
            max_tree_depth=settings.page_max_tree_depth,
            max_json_depth=settings.json_max_depth,
            max_patch_work_bytes=settings.page_patch_max_work_bytes,
        )


def new_document(root_name: str = "Page") -> Document:
    root_id = f"root-{uuid.uuid4().hex[:8]}"
    return {
        "rootId": root_id,
        "components": {root_id: {"id": root_id, "name": root_name, "props": {}, "children": []}},
    }


def encoded_size(document: Any) -> int:
    """Bytes of the compact UTF-8 encoding (what is stored and sent)."""
    return len(jsoncodec.dumpb(document))


def apply_patch(document: Document, patch: Patch, limits: DocumentLimits | None = None) -> Document:
    """A new document with `patch` applied (the input is not modified).

    Copy-on-write: an operation copies only the containers on its way from the
    root to what it changes (shallowly, once per patch), and the result shares
    every other subtree with the input — applying an op to a large page costs
    its path, not the page. Neither the input nor a value taken from the patch
    is ever modified in place, so a committed document (a room's, a cached one)
    can be handed out and kept while the next ops are applied.

    With `limits` (every write of outside input), each operation is checked
    before it runs: what it would add may not push the document past
    `max_bytes`, what it inserts may not nest deeper than `max_json_depth`, and
    the bytes it copies or compares are charged to `max_patch_work_bytes`.
    Without, the patch is trusted (replaying the op log, whose ops all passed).
    PatchFailed names the index of the first operation that does not apply."""
    budget = _Budget(limits) if limits is not None else None
    scratch: Any = document
    owned = _Owned()
    for index, op in enumerate(patch):
        try:
            if budget is not None:
                budget.charge(scratch, op, index)
            scratch = owned.prepare(scratch, op)
            if not owned.applied_simply(op):
                scratch = jsonpatch.JsonPatch([op]).apply(scratch, in_place=True)
        except _PATCH_ERRORS as e:
            kind = op.get("op") if isinstance(op, dict) else None
            path = op.get("path") if isinstance(op, dict) else None
            raise PatchFailed(
                f"operation {index} ({kind} {path}) does not apply: {e}",
                opIndex=index,
            ) from e
    return scratch  # type: ignore[no-any-return]


class _Owned:
    """The containers one patch application made (so may modify in place).
    They are also kept alive here, so no `id` in the set can be reused by an
    object this patch does not own."""

    __slots__ = ("_ids", "_keep", "_last", "_parent")

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._keep: list[Any] = []
        # The owned parent of the last `path` routed, and its final token.
        self._parent: Any = None
        self._last = ""

    def _own(self, value: Any) -> Any:
        if id(value) in self._ids:
            return value
        copied = dict(value) if isinstance(value, dict) else list(value)
        self._ids.add(id(copied))
        self._keep.append(copied)
        return copied

    def prepare(self, root: Any, op: Any) -> Any:
        """`root`, with the containers `op` will modify replaced by owned copies."""
        self._parent = None
        if not isinstance(op, dict):
            return root
        kind = op.get("op")
        if kind in ("add", "remove", "replace", "copy", "move"):
            root = self._route(root, op.get("path"))
        if kind == "move":
            self._parent = None
            root = self._route(root, op.get("from"))
        return root

    def applied_simply(self, op: dict[str, Any]) -> bool:
        """Apply the common case of `add`, `replace` and `remove` here (the
        parent found by `prepare`, the key or index plainly valid) — without
        building a JsonPatch per operation. False: anything else, which
        jsonpatch then applies or reports, with its own messages."""
        parent, last, kind = self._parent, self._last, op.get("op")
        if parent is None or (kind != "remove" and "value" not in op):
            return False
        if type(parent) is dict:
            if kind == "add":
                parent[last] = op["value"]
            elif last not in parent:
                return False
            elif kind == "replace":
                parent[last] = op["value"]
            elif kind == "remove":
                del parent[last]
            else:
                return False
            return True
        if type(parent) is list:
            if kind == "add" and last == "-":
                parent.append(op["value"])
                return True
            if not (last.isascii() and last.isdigit()) or (last[0] == "0" and last != "0"):
                return False
            i = int(last)
            if kind == "add" and i <= len(parent):
                parent.insert(i, op["value"])
            elif kind == "replace" and i < len(parent):
                parent[i] = op["value"]
            elif kind == "remove" and i < len(parent):
                del parent[i]
            else:
                return False
            return True
        return False

    def _route(self, root: Any, pointer: Any) -> Any:
        """Own the containers from the root to the parent of `pointer`. Stops
        where the pointer stops resolving; jsonpatch then reports the error."""
        if not isinstance(pointer, str) or not pointer.startswith("/"):
            return root  # the root itself ("") is replaced, not modified
        if not isinstance(root, dict | list):
            return root
        root = self._own(root)
        node = root
        tokens = pointer[1:].split("/")
        for raw in tokens[:-1]:
            token = raw.replace("~1", "/").replace("~0", "~")
            key: Any
            if isinstance(node, dict):
                if token not in node:
                    break
                key = token
            elif token.isascii() and token.isdigit() and int(token) < len(node):
                key = int(token)
            else:
                break
            child = node[key]
            if not isinstance(child, dict | list):
                break
            child = node[key] = self._own(child)
            node = child
        else:
            self._parent = node
            self._last = tokens[-1].replace("~1", "/").replace("~0", "~")
        return root


class _Budget:
    """The running cost of one patch: work done and bytes added so far."""

    def __init__(self, limits: DocumentLimits) -> None:
        self.limits = limits
        self.work = 0
        self.growth = 0

    def _spend(self, nbytes: int, index: int) -> None:
        self.work += nbytes
        if self.work > self.limits.max_patch_work_bytes:
            raise PatchTooCostly(
                f"the patch needs more than {self.limits.max_patch_work_bytes} bytes of work "
                f"(stopped at operation {index}); split it or send the document with PUT",
                opIndex=index,
            )

    def _grow(self, nbytes: int, index: int) -> None:
        # The document was within the limit before the patch, so growth past
        # the limit means the result cannot be; refuse before allocating it.
        self.growth += nbytes
        if self.growth > self.limits.max_bytes:
            raise PageTooLarge(
                f"operation {index} would grow the document past the "
                f"{self.limits.max_bytes}-byte limit",
                opIndex=index,
            )

    def _nest(self, path: str, value_depth: int, index: int) -> None:
        depth = path.count("/") + value_depth
        if depth > self.limits.max_json_depth:
            raise InvalidDocument(
                f"operation {index} would nest the document {depth} levels deep; "
                f"the limit is {self.limits.max_json_depth}",
                opIndex=index,
            )

    def charge(self, document: Document, op: dict[str, Any], index: int) -> None:
        """Check one operation against the limits before it is applied."""
        kind, path = op.get("op"), op.get("path")
        if not isinstance(path, str):
            return  # jsonpatch reports it
        self._spend(_OP_BASE_COST + len(path), index)
        if kind in ("add", "replace", "test") and "value" in op:
            value = op["value"]
            # Depth first: the iterative walk is safe at any depth, the encoder is not.
            self._nest(
                path if kind != "test" else "",
                json_depth(value, self.limits.max_json_depth),
                index,
            )
            size = encoded_size(value)
            self._spend(size, index)
            if kind != "test":
                self._grow(size + len(path), index)
        elif kind in ("copy", "move") and isinstance(op.get("from"), str):
            source = op["from"]
            moved_deeper = path.count("/") > source.count("/")
            if kind == "move" and not moved_deeper:
                return  # a move to no deeper place adds no bytes and no depth
            subtree = jsonpointer.resolve_pointer(document, source)
            size = encoded_size(subtree)
            self._spend(size, index)
            self._nest(path, json_depth(subtree, self.limits.max_json_depth), index)
            if kind == "copy":
                self._grow(size + len(path), index)


def apply_and_validate(
    document: Document, patches: list[Patch], limits: DocumentLimits
) -> Document:
    """Apply patches in order, each under the limits, and check the result."""
    for patch in patches:
        document = apply_patch(document, patch, limits)
    validate_document(document, limits)
    return document


# Above these, `is_heavy` says a change may take long enough (tens of
# milliseconds, up to the work budget) that callers run it off the event loop.
HEAVY_COMPONENTS = 300
HEAVY_OPS = 50


def is_heavy(document: Document, patches: list[Patch]) -> bool:
    """Whether applying `patches` to `document` is worth a worker thread:
    a large document (every op deep-copies it), many ops, or a copy/move (which
    may move a large subtree). Cheap: it looks at counts, not at the data."""
    components = document.get("components")
    if isinstance(components, dict) and len(components) > HEAVY_COMPONENTS:
        return True
    if sum(len(p) for p in patches) > HEAVY_OPS:
        return True
    return any(op.get("op") in ("copy", "move") for p in patches for op in p)


def validate_document(document: Any, limits: DocumentLimits) -> None:
    """Raise PageTooLarge or InvalidDocument (listing every problem). O(n)."""
    size = encoded_size(document)
    if size > limits.max_bytes:
        raise PageTooLarge(f"the document is {size} bytes; the limit is {limits.max_bytes}")
    errors = shape_errors(document, limits)
    if errors:
        raise InvalidDocument("; ".join(e.message for e in errors[:5]), errors=errors[:50])


def _err(field: str, message: str) -> FieldError:
    return FieldError(field, message, "body")


def shape_errors(document: Any, limits: DocumentLimits) -> list[FieldError]:
    """Every shape problem of `document`, in one pass over its components."""
    if not isinstance(document, dict):
        return [_err("", "the document must be an object")]
    components = document.get("components")
    root_id = document.get("rootId")
    if not isinstance(components, dict):
        return [_err("components", "components must be an object keyed by component id")]
    if not isinstance(root_id, str):
        return [_err("rootId", "rootId must be a string")]
    if len(components) > limits.max_components:
        count = len(components)
        return [_err("components", f"{count} components; the limit is {limits.max_components}")]
    errors: list[FieldError] = []
    if root_id not in components:
        errors.append(_err("rootId", f"root component {root_id!r} does not exist"))
    # parent[child] = key; built in the same pass (this loop is the hot path of
    # every write, so the common, valid component costs a few dict lookups).
    parent: dict[str, str] = {}
    shared: list[FieldError] = []
    for key, comp in components.items():
        if (
            type(comp) is not dict
            or comp.get("id") != key
            or type(comp.get("name")) is not str
            or type(comp.get("props", _EMPTY)) is not dict
            or type(comp.get("children", ())) is not list
        ):
            errors.extend(_component_errors(key, comp, components))
            continue
        for i, child in enumerate(comp.get("children", ())):
            if type(child) is not str or child not in components:
                errors.append(
                    _err(f"{where(key)}.children.{i}", f"child {child!r} is not a component")
                )
            elif child in parent or child == key:
                shared = shared or [
                    _err(
                        f"{where(key)}.children",
                        f"component {child!r} has more than one parent or is its own child",
                    )
                ]
            else:
                parent[child] = key
        if len(errors) >= 50:
            return errors
    if errors or shared:
        return errors or shared
    return _tree_errors(components, parent, limits.max_tree_depth)


_EMPTY: dict[str, Any] = {}


def where(key: str) -> str:
    return f"components.{key}"


def _component_errors(key: str, comp: Any, components: dict[str, Any]) -> list[FieldError]:
    at = where(key)
    if not isinstance(comp, dict):
        return [_err(at, "a component must be an object")]
    errors: list[FieldError] = []
    if comp.get("id") != key:
        errors.append(_err(f"{at}.id", f"id must equal its key {key!r}"))
    if not isinstance(comp.get("name"), str):
        errors.append(_err(f"{at}.name", "name must be a string"))
    if not isinstance(comp.get("props", {}), dict):
        errors.append(_err(f"{at}.props", "props must be an object"))
    children = comp.get("children", [])
    if not isinstance(children, list):
        errors.append(_err(f"{at}.children", "children must be a list of ids"))
        return errors
    for i, child in enumerate(children):
        if not isinstance(child, str) or child not in components:
            errors.append(_err(f"{at}.children.{i}", f"child {child!r} is not a component"))
    return errors


def _tree_errors(
    components: dict[str, Any], parent: dict[str, str], max_depth: int
) -> list[FieldError]:
    """No component is its own ancestor (a renderer walking the tree would
    never stop), and no chain of children is deeper than `max_depth`.

    O(n): with at most one parent each, the components form trees hanging from
    the parentless ones plus, possibly, cycles; a walk down from every
    parentless component, level by level, reaches everything except what sits
    on or under a cycle.
    """
    level = [key for key in components if key not in parent]
    reached = 0
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return [_err(where(level[0]), f"the tree is deeper than {max_depth} levels")]
        reached += len(level)
        level = [child for key in level for child in components[key].get("children", ())]
    if reached != len(components):
        seen = _reachable(components, parent)
        looped = next(key for key in components if key not in seen)
        return [_err(where(looped), "the components form a cycle")]
    return []


def _reachable(components: dict[str, Any], parent: dict[str, str]) -> set[str]:
    seen: set[str] = set()
    stack = [key for key in components if key not in parent]
    while stack:
        key = stack.pop()
        seen.add(key)
        stack.extend(components[key].get("children", ()))
    return seen
