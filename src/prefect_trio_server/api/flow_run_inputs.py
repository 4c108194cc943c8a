"""Flow run inputs: ``/flow_runs/{id}/input``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import Body, Path, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from ..models import flow_run_inputs as input_models
from ..schemas.base import DateTime
from .dependencies import DatabaseDep
from .routing import DeferredRouter

router = DeferredRouter(prefix="/flow_runs", tags=["Flow Runs"])

FlowRunId = Annotated[uuid.UUID, Path(description="The flow run id", alias="id")]
InputKey = Annotated[str, Path(description="The input key")]


class FlowRunInput(BaseModel):
    id: uuid.UUID
    created: DateTime | None
    updated: DateTime | None
    flow_run_id: uuid.UUID = Field(description="The flow run ID associated with the input.")
    key: str = Field(description="The key of the input.")
    value: str = Field(description="The value of the input.")
    sender: str | None = Field(default=None, description="The sender of the input.")


@router.post("/{id}/input", status_code=status.HTTP_201_CREATED)
async def create_flow_run_input(
    run_id: FlowRunId,
    database: DatabaseDep,
    key: Annotated[str, Body(description="The input key")],
    value: Annotated[str, Body(description="The value of the input")],
    sender: Annotated[str | None, Body(description="The sender of the input")] = None,
) -> None:
    """Create a value for a flow run input (409 when the key exists)."""
    now = dt.datetime.now(dt.UTC)
    await database.write(
        lambda connection: input_models.create_input(
            connection, run_id, key=key, value=value, sender=sender, now=now
        )
    )


@router.post("/{id}/input/filter")
async def filter_flow_run_input(
    run_id: FlowRunId,
    database: DatabaseDep,
    prefix: Annotated[str, Body(description="The input key prefix")],
    limit: Annotated[int, Body(description="The maximum number of results to return", ge=0)] = 1,
    exclude_keys: Annotated[list[str], Body(description="Exclude inputs with these keys")] = [],  # noqa: B006 - FastAPI copies body defaults
) -> list[FlowRunInput]:
    """Filter flow run inputs by key prefix."""
    rows = await database.read(
        lambda connection: input_models.filter_inputs(
            connection, run_id, prefix=prefix, exclude_keys=exclude_keys, limit=limit
        )
    )
    return [FlowRunInput.model_validate(row) for row in rows]


@router.get("/{id}/input/{key}")
async def read_flow_run_input(
    run_id: FlowRunId, key: InputKey, database: DatabaseDep
) -> PlainTextResponse:
    """Read the value of a flow run input (as stored, usually JSON text)."""
    row = await database.read(lambda connection: input_models.read_input(connection, run_id, key))
    return PlainTextResponse(row["value"])


@router.delete("/{id}/input/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_flow_run_input(run_id: FlowRunId, key: InputKey, database: DatabaseDep) -> None:
    """Delete a flow run input."""
    await database.write(lambda connection: input_models.delete_input(connection, run_id, key))
