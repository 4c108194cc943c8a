"""Limits and pages of the ``/filter`` and ``/paginate`` endpoints."""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, model_validator

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
    return {"results": results, **page_numbers(count=count, limit=limit, page=page)}


def page_numbers(*, count: int, limit: int, page: int) -> dict[str, int]:
    """A page's numbers: how many match, per page, how many pages, which page."""
    pages = math.ceil(count / limit) if limit else 0
    return {"count": count, "limit": limit, "pages": pages, "page": page}


class ListBody(BaseModel):
    """Base of the list endpoints' bodies: ``null`` means the default, extras are ignored.

    Prefect clients send every field, with ``null`` for "the default" (``"sort": null``,
    ``"offset": null``); newer clients add filters older servers do not know.
    """

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            key: value
            for key, value in data.items()
            if value is not None or _default_of(cls, key) is None
        }


def _default_of(model: type[BaseModel], name: str) -> Any:
    field = model.model_fields.get(name)
    return None if field is None else field.get_default(call_default_factory=True)
