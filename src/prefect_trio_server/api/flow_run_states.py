"""Flow run states: ``/flow_run_states``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query

from ..models import flow_runs as run_models
from ..schemas.states import State
from .dependencies import DatabaseDep
from .routing import DeferredRouter

router = DeferredRouter(prefix="/flow_run_states", tags=["Flow Run States"])


@router.get("/{id}")
async def read_flow_run_state(
    state_id: Annotated[uuid.UUID, Path(description="The flow run state id", alias="id")],
    database: DatabaseDep,
) -> State:
    """Get a flow run state by id."""
    row = await database.read(
        lambda connection: run_models.read_flow_run_state(connection, state_id)
    )
    return State.model_validate(row)


@router.get("/")
async def read_flow_run_states(
    flow_run_id: Annotated[uuid.UUID, Query()], database: DatabaseDep
) -> list[State]:
    """Get states associated with a flow run."""
    rows = await database.read(
        lambda connection: run_models.read_flow_run_states(connection, flow_run_id)
    )
    return [State.model_validate(row) for row in rows]
