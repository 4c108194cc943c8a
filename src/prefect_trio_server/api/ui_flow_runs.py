"""UI aggregates over flow runs: ``/ui/flow_runs``. Task run counts and run history."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import Body
from pydantic import Field

from ..models import ui as ui_models
from ..schemas.base import DateTime, PrefectBaseModel
from ..schemas.filters import FlowFilter, FlowRunFilter, TaskRunFilter
from ..schemas.sorting import FlowRunSort
from ..schemas.states import StateType
from .dependencies import DatabaseDep
from .pagination import ListBody
from .routing import DeferredRouter

router = DeferredRouter(prefix="/ui/flow_runs", tags=["Flow Runs", "UI"])

HISTORY_MAX_LIMIT = 1000


class SimpleFlowRun(PrefectBaseModel):
    id: uuid.UUID = Field(description="The flow run id.")
    state_type: StateType = Field(description="The state type.")
    timestamp: DateTime = Field(
        description="The start time of the run, or the expected start time if it hasn't run yet."
    )
    duration: float = Field(description="The total run time of the run.")
    lateness: float = Field(description="The delay between the expected and actual start time.")


class FlowRunHistoryBody(ListBody):
    """The history's body: every field optional, ``null`` meaning the default."""

    sort: FlowRunSort = FlowRunSort.EXPECTED_START_TIME_DESC
    limit: int = Field(default=HISTORY_MAX_LIMIT, ge=0, le=HISTORY_MAX_LIMIT)
    offset: int = Field(default=0, ge=0)
    flows: FlowFilter | None = None
    flow_runs: FlowRunFilter | None = None
    task_runs: TaskRunFilter | None = None
    deployments: dict[str, Any] | None = None
    work_pools: dict[str, Any] | None = None


@router.post("/history")
async def read_flow_run_history(
    database: DatabaseDep, body: Annotated[FlowRunHistoryBody | None, Body()] = None
) -> list[SimpleFlowRun]:
    """The selected flow runs, simplified for the UI's run history chart."""
    query = body or FlowRunHistoryBody()
    now = dt.datetime.now(dt.UTC)
    rows = await database.read(
        lambda connection: ui_models.read_flow_run_history(
            connection,
            flows=query.flows,
            flow_runs=query.flow_runs,
            task_runs=query.task_runs,
            deployments=query.deployments,
            work_pools=query.work_pools,
            sort=query.sort,
            offset=query.offset,
            limit=query.limit,
            now=now,
        )
    )
    return [SimpleFlowRun.model_validate(row) for row in rows]


@router.post("/count-task-runs")
async def count_task_runs_by_flow_run(
    flow_run_ids: Annotated[list[uuid.UUID], Body(embed=True, max_length=200)],
    database: DatabaseDep,
) -> dict[uuid.UUID, int]:
    """Get task run counts by flow run id."""
    return await database.read(
        lambda connection: ui_models.count_task_runs_by_flow_run(connection, flow_run_ids)
    )
