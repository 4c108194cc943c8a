"""Page queries kept by the request that asked for them.

Every list request builds its SELECT from the filters it was sent: a few hundred SQLAlchemy
objects, whose cache key SQLAlchemy then computes by walking them all, before it finds the
compiled SQL in its own cache. For a page of 50 logs that is about 0.5 ms of CPU on a
database thread, more than SQLite spends writing the page. The UI and the clients poll the
same few filters over and over, so :class:`PageStatements` keeps the statements of the last
requests: one built for a request is run again, as it is, for an equal request. A statement
memoizes its cache key, so SQLAlchemy finds the compiled SQL at once.

Only the statement is kept, never rows: each request still runs its query. A statement
depends on nothing but the request (the dialect, the filters, sort, offset and limit; no
clock), so the key is those, the filters as their JSON.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

from pydantic import BaseModel

__all__ = ["PageStatements", "filter_key", "page_key"]

S = TypeVar("S")

DEFAULT_SIZE = 256
"""Statements kept per kind of page: a few KB each (the SQL of a run page is ~4 KB)."""


def filter_key(value: BaseModel | None) -> tuple[str, str] | None:
    """A filter as part of a cache key: its class and its JSON (every field, defaults too).

    Equal JSON means equal field values, hence the same WHERE clause.
    """
    if value is None:
        return None
    return (type(value).__qualname__, value.model_dump_json())


def page_key(dialect: str, request: Hashable, *, offset: int, limit: int) -> Hashable:
    """The key of a page's statement: the dialect, what the request selects and sorts by
    (``request``: its filters through :func:`filter_key`, its sort), the offset and limit."""
    return (dialect, request, offset, limit)


class PageStatements:
    """The statements of the last ``size`` distinct requests, least recently used out first.

    Safe to use from several database threads at once.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size}")
        self.size = size
        self._statements: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._statements)

    def get(self, key: Hashable, build: Callable[[], S]) -> S:
        """The statement kept for ``key``, or ``build()``'s, kept from now on."""
        with self._lock:
            statement = self._statements.get(key)
            if statement is not None:
                self._statements.move_to_end(key)
                return cast(S, statement)
        built = build()  # outside the lock: other threads keep reading meanwhile
        with self._lock:
            self._statements[key] = built
            self._statements.move_to_end(key)
            while len(self._statements) > self.size:
                self._statements.popitem(last=False)
        return built
