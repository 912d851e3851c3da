"""Rebase, not reject (SPEC §4.6): where an op writes, and whether two ops collide.

An op whose base version is behind the head is applied at the head when none
of the ops since its base touched an overlapping location. Pure functions and
one small structure, shared by the op log's write path (HTTP and rooms alike):

- A location is a JSON Pointer cut at its first array index: an index widens
  the location to the whole array (indices shift under inserts and removes).
  A token is taken for an index when it is all digits, whatever the document
  holds there — a numeric object key is widened too, which can only add
  conflicts, never miss one.
- Two locations overlap when one path is a prefix of the other. The exception
  is an append (`add` — or a `move`/`copy` target — at `…/-`): it leaves the
  existing indices where they were, so it overlaps only ops on the array
  itself or its ancestors, not other appends and not ops at an index.
- `move` and `copy` count both `from` and `path`; `test` counts nowhere (it is
  checked at the head, where it keeps its meaning).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any


class Kind(enum.IntEnum):
    WHOLE = 0  # the value at `path` and everything under it
    INDEX = 1  # some element of the array at `path` (widened)
    APPEND = 2  # a new last element of the array at `path`


@dataclass(frozen=True, slots=True)
class Location:
    path: tuple[str, ...]
    kind: Kind

    def to_pointer(self) -> str:
        """The location as a JSON Pointer (an array for widened ones)."""
        return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in self.path)


EVERYTHING = Location((), Kind.WHOLE)

Locations = tuple[Location, ...]


def _is_index(token: str) -> bool:
    return token.isascii() and token.isdigit()


def location(pointer: Any, *, append: bool = False) -> Location:
    """Where an op at `pointer` writes; `append` when a final `-` means a new
    last element (add, and the target of move/copy). Malformed pointers are
    everywhere: the op will not apply, and a conflict is the safe answer."""
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        return EVERYTHING
    if pointer == "":
        return EVERYTHING
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]
    last = len(tokens) - 1
    for i, part in enumerate(tokens):
        if part == "-" and i == last and append:
            return Location(tuple(tokens[:i]), Kind.APPEND)
        if part == "-" or _is_index(part):
            return Location(tuple(tokens[:i]), Kind.INDEX)
    return Location(tuple(tokens), Kind.WHOLE)


def op_locations(op: Any) -> Locations:
    """The locations one RFC 6902 operation touches."""
    if not isinstance(op, dict):
        return (EVERYTHING,)
    kind = op.get("op")
    if kind == "test":
        return ()
    if kind == "add":
        return (location(op.get("path"), append=True),)
    if kind in ("remove", "replace"):
        return (location(op.get("path")),)
    if kind in ("move", "copy"):
        return (location(op.get("from")), location(op.get("path"), append=True))
    return (EVERYTHING,)


def patch_locations(patch: Any) -> Locations:
    """Every location a patch touches (duplicates removed, order kept)."""
    if not isinstance(patch, list):
        return (EVERYTHING,)
    seen: dict[Location, None] = {}
    for op in patch:
        for loc in op_locations(op):
            seen[loc] = None
    return tuple(seen)


def overlaps(a: Location, b: Location) -> bool:
    n = min(len(a.path), len(b.path))
    if a.path[:n] != b.path[:n]:
        return False  # neither is a prefix of the other
    # An append beside another append or an op at an index does not overlap.
    return not (
        a.path == b.path and Kind.WHOLE not in (a.kind, b.kind) and Kind.APPEND in (a.kind, b.kind)
    )


def collision(mine: Locations, since: Iterable[tuple[int, Locations]]) -> tuple[int, str] | None:
    """The first (version, location) among the ops `since` that overlaps one
    of `mine`; None when the op may be rebased onto them."""
    for version, theirs in since:
        for b in theirs:
            for a in mine:
                if overlaps(a, b):
                    return version, a.to_pointer()
    return None


class History:
    """The locations written by the last `keep` versions of a page, so a room
    decides a rebase from memory; older bases are read from the op log."""

    __slots__ = ("_ops", "head", "keep")

    def __init__(self, head: int, keep: int) -> None:
        self.head = head
        self.keep = keep
        self._ops: deque[Locations] = deque(maxlen=keep)

    @property
    def floor(self) -> int:
        """The oldest base version this history can answer for."""
        return self.head - len(self._ops)

    def push(self, version: int, patch: Any) -> None:
        self.push_locations(version, patch_locations(patch))

    def push_locations(self, version: int, locations: Locations) -> None:
        if version != self.head + 1:
            self.reset(version)  # a gap (reload): start again from here
            return
        self._ops.append(locations)
        self.head = version

    def reset(self, head: int) -> None:
        self._ops.clear()
        self.head = head

    def since(self, base: int) -> list[tuple[int, Locations]] | None:
        """(version, locations) of the ops after `base`, or None if not held."""
        if base < self.floor or base > self.head:
            return None
        skip = base - self.floor
        first = base + 1
        return [(first + i, locs) for i, locs in enumerate(islice(self._ops, skip, None))]
