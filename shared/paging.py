"""Every list is paginated: a page asked for, and a page given (with whether there is a next one).

A page is read with `LIMIT size + 1 OFFSET (number - 1) * size`, so knowing whether there is a next
page costs one row more and never a count of the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_SIZE = 100
DEFAULT_SIZE = 20
# A page number past this is refused rather than read: an offset that deep is a scan, not a page anyone reads.
MAX_NUMBER = 10_000


@dataclass(frozen=True)
class PageRequest:
    """Page `number` (from 1) of `size` items."""

    number: int = 1
    size: int = DEFAULT_SIZE

    def __post_init__(self) -> None:
        if not 1 <= self.number <= MAX_NUMBER:
            raise ValueError(f"a page number is from 1 to {MAX_NUMBER}")
        if not 1 <= self.size <= MAX_SIZE:
            raise ValueError(f"a page holds from 1 to {MAX_SIZE} items")

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def limit(self) -> int:
        """Rows to read: one more than the page holds, to know whether there is a next page."""
        return self.size + 1

    def page(self, rows: Sequence[T]) -> Page[T]:
        """The page of `rows` read with `limit` and `offset`."""
        return Page(list(rows[: self.size]), self.number, self.size, has_next=len(rows) > self.size)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1
