"""Answering with data validated once and serialised once.

FastAPI turns a returned model back into a dict and validates it again against the route's
response model before serialising it. On the hot routes the data comes from our own rows, so
these helpers validate it once (a list in a single pass through a ``TypeAdapter``) and write
the JSON directly; the routes keep ``response_model`` for the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import Response
from pydantic import BaseModel, TypeAdapter

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
