"""Answering with a model that is already validated, serialised once.

FastAPI turns a returned model back into a dict and validates it again against the route's
response model before serialising it. On the hot routes the model was just built from our own
rows, so ``model_response`` writes its JSON directly; the route keeps ``response_model`` for
the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(
        content=model.model_dump_json(), status_code=status_code, media_type="application/json"
    )
