"""UI aggregates over flows: ``/ui/flows``. Deployment counts and next scheduled runs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import Body
from pydantic import Field

from ..models import ui as ui_models
from ..schemas.base import DateTime, PrefectBaseModel
from ..schemas.states import StateType
from .dependencies import DatabaseDep
from .routing import DeferredRouter

router = DeferredRouter(prefix="/ui/flows", tags=["Flows", "UI"])

FlowIds = Annotated[list[uuid.UUID], Body(embed=True, max_length=200)]


class SimpleNextFlowRun(PrefectBaseModel):
    id: uuid.UUID = Field(description="The flow run id.")
    flow_id: uuid.UUID = Field(description="The flow id.")
    name: str = Field(description="The flow run name")
    state_name: str = Field(description="The state name.")
    state_type: StateType = Field(description="The state type.")
    next_scheduled_start_time: DateTime = Field(description="The next scheduled start time")


@router.post("/count-deployments")
async def count_deployments_by_flow(flow_ids: FlowIds) -> dict[uuid.UUID, int]:
    """Get deployment counts by flow id."""
    return ui_models.count_deployments_by_flow(flow_ids)


@router.post("/next-runs")
async def next_runs_by_flow(
    flow_ids: FlowIds, database: DatabaseDep
) -> dict[uuid.UUID, SimpleNextFlowRun | None]:
    """Get the next flow run by flow id."""
    now = dt.datetime.now(dt.UTC)
    rows = await database.read(
        lambda connection: ui_models.next_runs_by_flow(connection, flow_ids, now=now)
    )
    return {
        flow_id: SimpleNextFlowRun.model_validate(row) if row is not None else None
        for flow_id, row in rows.items()
    }
