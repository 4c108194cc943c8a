"""Answering with data validated once and serialised once, or written by the database.

FastAPI turns a returned model back into a dict and validates it again against the route's
response model before serialising it. On the hot routes the data comes from our own rows, so
these helpers validate it once (a list in a single pass through a ``TypeAdapter``) and write
the JSON directly, or join the JSON objects the database wrote for each row
(:mod:`..database.json_rows`); the routes keep ``response_model`` for the OpenAPI schema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel, TypeAdapter

from .pagination import page_numbers

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(content=model.model_dump_json(), status_code=status_code, media_type=JSON)


class ListResponder:
    """Validates rows as a list of ``model`` and answers with their JSON, in one pass each."""

    def __init__(self, model: type[M]) -> None:
        self._adapter: TypeAdapter[list[Any]] = TypeAdapter(list[model])  # type: ignore[valid-type]

    def response(self, rows: Sequence[Any]) -> Response:
        content = self._adapter.dump_json(self._adapter.validate_python(rows))
        return Response(content=content, media_type=JSON)


def objects_response(objects: list[str]) -> Response:
    """A JSON array of objects that are JSON text already."""
    return Response(content=("[" + ",".join(objects) + "]").encode(), media_type=JSON)


def objects_page_response(objects: list[str], *, count: int, limit: int, page: int) -> Response:
    """A ``/paginate`` answer (see :class:`.pagination.Page`) around objects in JSON text."""
    numbers = page_numbers(count=count, limit=limit, page=page)
    content = '{"results":[' + ",".join(objects) + "]," + json.dumps(numbers)[1:]
    return Response(content=content.encode(), media_type=JSON)
