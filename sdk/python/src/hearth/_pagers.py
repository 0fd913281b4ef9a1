"""Lazy listings: iterators that fetch the next page only when the previous one is used up."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Page", "Pager", "AsyncPager"]

T = TypeVar("T")


class Page(Generic[T]):
    """One fetched page: its items and the token of the next (``None`` on the last)."""

    __slots__ = ("items", "next_token")

    def __init__(self, items: list[T], next_token: str | None) -> None:
        self.items = items
        self.next_token = next_token

    def __repr__(self) -> str:
        return f"Page(items={len(self.items)}, next_token={self.next_token!r})"


class Pager(Iterator[T]):
    """An iterator over a listing's items; pages are fetched as iteration reaches them.

    Nothing is fetched before the first ``next()``. ``pages_fetched`` counts the page
    requests made so far. A pager is one pass: call the listing method again to restart.
    """

    def __init__(self, fetch: Callable[[str | None], Page[T]], what: str = "items") -> None:
        self._fetch = fetch
        self._what = what
        self._buffer: deque[T] = deque()
        self._token: str | None = None
        self._done = False
        self.pages_fetched = 0

    def _next_page(self) -> bool:
        if self._done:
            return False
        page = self._fetch(self._token)
        self.pages_fetched += 1
        self._buffer.extend(page.items)
        if page.next_token is None or page.next_token == self._token and not page.items:
            self._done = True
        self._token = page.next_token
        return True

    def __iter__(self) -> Pager[T]:
        return self

    def __next__(self) -> T:
        while not self._buffer:
            if not self._next_page():
                raise StopIteration
        return self._buffer.popleft()

    def pages(self) -> Iterator[list[T]]:
        """The remaining items a page at a time."""
        while True:
            if self._buffer:
                items = list(self._buffer)
                self._buffer.clear()
                yield items
            if not self._next_page():
                return

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._what}, pages_fetched={self.pages_fetched})"


class AsyncPager(AsyncIterator[T]):
    """The async twin of :class:`Pager` (``async for item in pager``)."""

    def __init__(
        self, fetch: Callable[[str | None], Awaitable[Page[T]]], what: str = "items"
    ) -> None:
        self._fetch = fetch
        self._what = what
        self._buffer: deque[T] = deque()
        self._token: str | None = None
        self._done = False
        self.pages_fetched = 0

    async def _next_page(self) -> bool:
        if self._done:
            return False
        page = await self._fetch(self._token)
        self.pages_fetched += 1
        self._buffer.extend(page.items)
        if page.next_token is None or page.next_token == self._token and not page.items:
            self._done = True
        self._token = page.next_token
        return True

    def __aiter__(self) -> AsyncPager[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if not await self._next_page():
                raise StopAsyncIteration
        return self._buffer.popleft()

    async def pages(self) -> AsyncIterator[list[T]]:
        """The remaining items a page at a time."""
        while True:
            if self._buffer:
                items = list(self._buffer)
                self._buffer.clear()
                yield items
            if not await self._next_page():
                return

    async def collect(self) -> list[T]:
        """Every remaining item, as a list."""
        return [item async for item in self]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._what}, pages_fetched={self.pages_fetched})"
