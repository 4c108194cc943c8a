"""Task run states: ``/task_run_states``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query

from ..models import task_runs as task_models
from ..schemas.states import State
from .dependencies import DatabaseDep
from .routing import DeferredRouter

router = DeferredRouter(prefix="/task_run_states", tags=["Task Run States"])


@router.get("/{id}")
async def read_task_run_state(
    state_id: Annotated[uuid.UUID, Path(description="The task run state id", alias="id")],
    database: DatabaseDep,
) -> State:
    """Get a task run state by id."""
    row = await database.read(
        lambda connection: task_models.read_task_run_state(connection, state_id)
    )
    return State.model_validate(row)


@router.get("/")
async def read_task_run_states(
    task_run_id: Annotated[uuid.UUID, Query()], database: DatabaseDep
) -> list[State]:
    """Get states associated with a task run."""
    rows = await database.read(
        lambda connection: task_models.read_task_run_states(connection, task_run_id)
    )
    return [State.model_validate(row) for row in rows]
