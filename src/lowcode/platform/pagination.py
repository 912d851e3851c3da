"""`page` (1-based) and `page_size` (default 20, max 100; the spec enforces the
bounds) → limit/offset, and the `{items, page, page_size, total}` envelope."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar


class ApiModel(Protocol):
    def to_api(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=ApiModel)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    page_size: int = 20

    @property
    def limit(self) -> int:
        return self.page_size

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True, slots=True)
class PageOf(Generic[T]):
    items: list[T]
    page: PageRequest
    total: int

    def to_api(self) -> dict[str, Any]:
        return {
            "items": [i.to_api() for i in self.items],
            "page": self.page.page,
            "page_size": self.page.page_size,
            "total": self.total,
        }


async def fetch_page(
    page: PageRequest,
    rows: AsyncIterable[R],
    item: Callable[[R], T],
    total: Callable[[], Awaitable[int]],
) -> PageOf[T]:
    """One page of a list: its `rows` (a list query called with `page.limit`
    and `page.offset`) each made an `item`, then the `total` count (the
    matching count query, called after the rows on the same connection)."""
    items = [item(r) async for r in rows]
    return PageOf(items, page, await total())


def search_pattern(query: str | None) -> str | None:
    """The ILIKE pattern of a list's `q` parameter: its text, trimmed, matched
    literally anywhere (`%`, `_` and `\\` escaped); None when there is no text."""
    text = query.strip() if query else ""
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
