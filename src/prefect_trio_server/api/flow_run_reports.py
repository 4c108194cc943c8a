"""Flow runs in bulk and in aggregate: ``/flow_runs/bulk_*``, history, lateness, logs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import Body, Path
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..models import flow_run_reports as reports
from ..schemas.base import DateTime
from ..schemas.filters import FlowFilter, FlowRunFilter
from ..schemas.states import SetStateStatus, State, StateCreate
from .dependencies import ApiVersionDep, DatabaseDep
from .pagination import ListBody
from .routing import DeferredRouter

router = DeferredRouter(prefix="/flow_runs", tags=["Flow Runs"])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BulkDeleteBody(ListBody):
    flow_runs: FlowRunFilter | None = Field(
        default=None, description="Filter criteria for flow runs to delete"
    )
    limit: int = Field(default=50, ge=1, le=50, description="Maximum number of flow runs.")


class BulkSetStateBody(ListBody):
    flow_runs: FlowRunFilter | None = Field(
        default=None, description="Filter criteria for flow runs to update"
    )
    state: StateCreate = Field(description="The state to set")
    force: bool = Field(default=False, description="Skip the orchestration rules.")
    limit: int = Field(default=50, ge=1, le=50, description="Maximum number of flow runs.")


class AggregateBody(ListBody):
    flows: FlowFilter | None = None
    flow_runs: FlowRunFilter | None = None
    task_runs: dict[str, Any] | None = None
    deployments: dict[str, Any] | None = None
    work_pools: dict[str, Any] | None = None
    work_pool_queues: dict[str, Any] | None = None


class HistoryBody(AggregateBody):
    history_start: DateTime = Field(description="The history's start time.")
    history_end: DateTime = Field(description="The history's end time.")
    history_interval_seconds: float = Field(
        description="The size of each history interval, in seconds. Must be at least 1 second.",
        ge=1,
    )


class FlowRunBulkDeleteResponse(BaseModel):
    deleted: list[uuid.UUID]


class FlowRunOrchestrationResult(BaseModel):
    flow_run_id: uuid.UUID
    status: SetStateStatus
    state: State | None
    details: dict[str, Any]


class FlowRunBulkSetStateResponse(BaseModel):
    results: list[FlowRunOrchestrationResult]


class HistoryResponseState(BaseModel):
    state_type: str
    state_name: str
    count_runs: int
    sum_estimated_run_time: float
    sum_estimated_lateness: float


class HistoryResponse(BaseModel):
    interval_start: DateTime
    interval_end: DateTime
    states: list[HistoryResponseState]


@router.post("/bulk_delete")
async def bulk_delete_flow_runs(
    database: DatabaseDep, body: Annotated[BulkDeleteBody | None, Body()] = None
) -> FlowRunBulkDeleteResponse:
    """Bulk delete flow runs matching the filter (at most ``limit``)."""
    body = body or BulkDeleteBody()
    deleted = await database.write(
        lambda connection: reports.bulk_delete(connection, body.flow_runs, limit=body.limit)
    )
    return FlowRunBulkDeleteResponse(deleted=deleted)


@router.post("/bulk_set_state")
async def bulk_set_flow_run_state(
    body: BulkSetStateBody, database: DatabaseDep, version: ApiVersionDep
) -> FlowRunBulkSetStateResponse:
    """Propose one state to many flow runs, each orchestrated on its own."""
    now = _now()
    results = await database.write(
        lambda connection: reports.bulk_set_state(
            connection,
            body.flow_runs,
            body.state,
            force=body.force,
            limit=body.limit,
            now=now,
            api_version=version,
        )
    )
    return FlowRunBulkSetStateResponse.model_validate({"results": results})


@router.post("/lateness")
async def average_flow_run_lateness(
    database: DatabaseDep, body: Annotated[AggregateBody | None, Body()] = None
) -> float | None:
    """The average lateness, in seconds, of the matching flow runs (null when none)."""
    body = body or AggregateBody()
    now = _now()
    return await database.read(
        lambda connection: reports.average_lateness(connection, body.flows, body.flow_runs, now=now)
    )


@router.post("/history")
async def flow_run_history(body: HistoryBody, database: DatabaseDep) -> list[HistoryResponse]:
    """Matching flow runs by state over intervals of time."""
    interval = dt.timedelta(seconds=body.history_interval_seconds)
    span = body.history_end - body.history_start
    if span / interval > reports.MAX_HISTORY_INTERVALS:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "history_interval_seconds"),
                    "msg": f"Too many intervals: at most {reports.MAX_HISTORY_INTERVALS}",
                    "input": body.history_interval_seconds,
                }
            ]
        )
    now = _now()
    rows = await database.read(
        lambda connection: reports.history(
            connection,
            body.flows,
            body.flow_runs,
            start=body.history_start,
            end=body.history_end,
            interval=interval,
            now=now,
        )
    )
    return [HistoryResponse.model_validate(row) for row in rows]


@router.get("/{id}/logs/download")
async def download_logs(
    run_id: Annotated[uuid.UUID, Path(description="The flow run id", alias="id")],
    database: DatabaseDep,
) -> Response:
    """All of a flow run's logs as a CSV file."""
    name, text = await database.read(lambda connection: reports.logs_csv(connection, run_id))
    return Response(
        content=text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-logs.csv"'},
    )
