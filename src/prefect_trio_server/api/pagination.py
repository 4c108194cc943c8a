"""Limits and pages of the ``/filter`` and ``/paginate`` endpoints."""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from ..settings import Settings

T = TypeVar("T")


def checked_limit(limit: int | None, settings: Settings) -> int:
    """``limit`` or the default page size; over ``PREFECT_SERVER_API_DEFAULT_LIMIT`` is 422."""
    maximum = settings.api_default_limit
    if limit is None:
        return maximum
    if limit < 0 or limit > maximum:
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal" if limit > maximum else "greater_than_equal",
                    "loc": ("body", "limit"),
                    "msg": f"Input should be between 0 and {maximum}",
                    "input": limit,
                    "ctx": {"le": maximum, "ge": 0},
                }
            ]
        )
    return limit


class Page(BaseModel, Generic[T]):
    """The shape of every ``/paginate`` answer."""

    results: list[T]
    count: int
    limit: int
    pages: int
    page: int


def page_of(results: list[Any], *, count: int, limit: int, page: int) -> dict[str, Any]:
    pages = math.ceil(count / limit) if limit else 0
    return {"results": results, "count": count, "limit": limit, "pages": pages, "page": page}
