"""Pages of a list result: at most ``limit`` items and about ``PAGE_BYTES`` of JSON, then ``next``.

A reply is one frame held in the daemon's memory until the peer reads it, so no list may grow with
the data it lists (issue 12: never-read ``cache.list``/``registry.list`` replies pinned a gigabyte).
A list method takes ``offset`` and ``limit`` (``Offset``, ``Limit``: default 1000, at most 10 000)
and returns its items from ``offset`` on, stopping at ``limit`` items or once the page holds
``PAGE_BYTES`` of JSON (always at least one item); ``next`` is the offset of the first item left out,
or None when the page reached the end. Offsets count in the order the method lists in: items added
or removed between two pages shift them (a page may repeat or skip an item; ``total`` says how many
there were at the time).

>>> first = page(list(range(5)), 0, 2, str)
>>> first.items, first.next
(['0', '1'], 2)
>>> last = page(list(range(5)), 4, 2, str)
>>> last.items, last.next
(['4'], None)
>>> page(["x" * 100] * 3, 0, 10, str, budget=150).next   # a byte budget: two items fit in 150
2
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PAGE_BYTES",
    "Limit",
    "Offset",
    "Page",
    "PageParams",
    "encoded_size",
    "page",
    "paged",
]

PAGE_BYTES: Final = 256 * 1024
"""About how many bytes of JSON one page holds (the item that crosses it is the last one)."""
DEFAULT_LIMIT: Final = 1000
"""Items per page when the request names no ``limit``."""
MAX_LIMIT: Final = 10_000
"""The largest ``limit`` a request may name."""

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
"""A ``limit`` param: at least 1, at most ``MAX_LIMIT``."""
Offset = Annotated[int, Field(ge=0)]
"""An ``offset`` param: where the page starts (a previous page's ``next``)."""

_T = TypeVar("_T")


class PageParams(BaseModel):
    """The params of a list method: a page of at most ``limit`` items from ``offset``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: Limit = DEFAULT_LIMIT
    offset: Offset = 0


@dataclass(frozen=True, slots=True)
class Page:
    """The encoded items of one page and the offset of the next one (None: this is the last)."""

    items: list[Any]
    next: int | None


def encoded_size(item: Any) -> int:
    """What ``item`` counts against a page's budget: its compact JSON and a separator.

    >>> encoded_size({"a": 1})
    8
    """
    return len(json.dumps(item, separators=(",", ":"), default=str)) + 1


def page(
    items: Sequence[_T], offset: int, limit: int, encode: Callable[[_T], Any], *, budget: int = PAGE_BYTES
) -> Page:
    """``items[offset:]``, each through ``encode``, until ``limit`` items or ``budget`` bytes of JSON."""
    encoded: list[Any] = []
    size = 0
    index = offset
    end = min(len(items), offset + limit)
    while index < end and size < budget:
        item = encode(items[index])
        size += encoded_size(item)
        encoded.append(item)
        index += 1
    return Page(encoded, index if index < len(items) else None)


def paged(key: str, items: Sequence[_T], params: PageParams, encode: Callable[[_T], Any]) -> dict[str, Any]:
    """A list method's reply: ``{key: the page's items, "total": len(items), "next": offset or None}``.

    >>> paged("numbers", [1, 2, 3], PageParams(limit=2), str)
    {'numbers': ['1', '2'], 'total': 3, 'next': 2}
    """
    listed = page(items, params.offset, params.limit, encode)
    return {key: listed.items, "total": len(items), "next": listed.next}
