"""Task runs: ``/task_runs``. Create (upsert on the natural key), read, update, delete,
query, and ``set_state``. The websocket ``/task_runs/subscriptions/scheduled`` is not served.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import Body, HTTPException, Path, Response, status
from pydantic import BaseModel, Field

from ..models import task_runs as task_models
from ..schemas.actions import TaskRunCreate, TaskRunUpdate
from ..schemas.base import DateTime
from ..schemas.core import TaskRun
from ..schemas.filters import FlowFilter, FlowRunFilter, TaskRunFilter
from ..schemas.sorting import TaskRunSort
from ..schemas.states import OrchestrationResult, StateCreate, StateType
from .dependencies import ApiVersionDep, DatabaseDep, SettingsDep
from .pagination import checked_limit
from .responses import objects_page_response, objects_response
from .routing import DeferredRouter

router = DeferredRouter(prefix="/task_runs", tags=["Task Runs"])

TaskRunId = Annotated[uuid.UUID, Path(description="The task run id", alias="id")]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _RunSelection(BaseModel):
    """The filters every task run list endpoint takes (deployments: see models)."""

    flows: FlowFilter | None = None
    flow_runs: FlowRunFilter | None = None
    task_runs: TaskRunFilter | None = None
    deployments: dict[str, Any] | None = None

    def selection(self) -> dict[str, Any]:
        return {
            "flows": self.flows,
            "flow_runs": self.flow_runs,
            "task_runs": self.task_runs,
            "deployments": self.deployments,
        }


class TaskRunsFilterBody(_RunSelection):
    offset: int = Field(default=0, ge=0)
    limit: int | None = Field(
        default=None, description="Defaults to PREFECT_SERVER_API_DEFAULT_LIMIT if not provided."
    )
    sort: TaskRunSort = TaskRunSort.ID_DESC


class TaskRunsPaginateBody(_RunSelection):
    page: int = Field(default=1, ge=1)
    limit: int | None = Field(
        default=None, description="Defaults to PREFECT_SERVER_API_DEFAULT_LIMIT if not provided."
    )
    sort: TaskRunSort = TaskRunSort.ID_DESC


class TaskRunPaginationResponse(BaseModel):
    results: list[TaskRun]
    count: int
    limit: int
    pages: int
    page: int


class HistoryResponseState(BaseModel):
    """Represents a single state's history over an interval."""

    state_type: StateType = Field(description="The state type.")
    state_name: str = Field(description="The state name.")
    count_runs: int = Field(
        description="The number of runs in the specified state during the interval."
    )
    sum_estimated_run_time: float = Field(
        description="The total estimated run time of all runs during the interval."
    )
    sum_estimated_lateness: float = Field(
        description=(
            "The sum of differences between actual and expected start time during the interval."
        )
    )


class HistoryResponse(BaseModel):
    """Represents a history of aggregation states over an interval"""

    interval_start: DateTime = Field(description="The start date of the interval.")
    interval_end: DateTime = Field(description="The end date of the interval.")
    states: list[HistoryResponseState] = Field(
        description="A list of state histories during the interval."
    )


@router.post("/", status_code=status.HTTP_201_CREATED)
@router.post("", status_code=status.HTTP_201_CREATED, include_in_schema=False)
async def create_task_run(
    task_run: TaskRunCreate, response: Response, database: DatabaseDep, version: ApiVersionDep
) -> TaskRun:
    """Create a task run (200 with the existing run for a repeated
    ``(flow_run_id, task_key, dynamic_key)``)."""
    now = _now()
    row, created = await database.write(
        lambda connection: task_models.create_task_run(
            connection, task_run, now=now, api_version=version
        )
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return TaskRun.model_validate(row)


@router.patch("/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def update_task_run(
    task_run: TaskRunUpdate, run_id: TaskRunId, database: DatabaseDep
) -> None:
    """Updates a task run."""
    now = _now()
    await database.write(
        lambda connection: task_models.update_task_run(connection, run_id, task_run, now=now)
    )


@router.post("/count")
async def count_task_runs(
    database: DatabaseDep, body: Annotated[_RunSelection | None, Body()] = None
) -> int:
    """Count task runs."""
    selection = (body or _RunSelection()).selection()
    return await database.read(
        lambda connection: task_models.count_task_runs(connection, **selection)
    )


@router.post("/history")
async def task_run_history(
    database: DatabaseDep,
    history_start: Annotated[DateTime, Body(description="The history's start time.")],
    history_end: Annotated[DateTime, Body(description="The history's end time.")],
    history_interval_seconds: Annotated[
        float,
        Body(
            description=(
                "The size of each history interval, in seconds. Must be at least 1 second."
            ),
            json_schema_extra={"format": "time-delta"},
        ),
    ],
    flows: Annotated[FlowFilter | None, Body()] = None,
    flow_runs: Annotated[FlowRunFilter | None, Body()] = None,
    task_runs: Annotated[TaskRunFilter | None, Body()] = None,
    deployments: Annotated[dict[str, Any] | None, Body()] = None,
) -> list[HistoryResponse]:
    """Query for task run history data across a given range and interval."""
    if history_interval_seconds < 1:
        raise HTTPException(
            status_code=422,
            detail="History interval must not be less than 1 second.",
        )
    interval = dt.timedelta(seconds=history_interval_seconds)
    now = _now()
    rows = await database.read(
        lambda connection: task_models.task_run_history(
            connection,
            flows=flows,
            flow_runs=flow_runs,
            task_runs=task_runs,
            deployments=deployments,
            start=history_start,
            end=history_end,
            interval=interval,
            now=now,
        )
    )
    return [HistoryResponse.model_validate(row) for row in rows]


@router.get("/{id}")
async def read_task_run(run_id: TaskRunId, database: DatabaseDep) -> TaskRun:
    """Get a task run by id."""
    now = _now()
    row = await database.read(
        lambda connection: task_models.read_task_run(connection, run_id, now=now)
    )
    return TaskRun.model_validate(row)


@router.post("/filter", response_model=list[TaskRun])
async def read_task_runs(
    database: DatabaseDep,
    settings: SettingsDep,
    body: Annotated[TaskRunsFilterBody | None, Body()] = None,
) -> Response:
    """Query for task runs."""
    body = body or TaskRunsFilterBody()
    limit = checked_limit(body.limit, settings)
    now = _now()
    selection = body.selection()
    objects = await database.read(
        lambda connection: task_models.read_task_runs(
            connection, **selection, sort=body.sort, offset=body.offset, limit=limit, now=now
        )
    )
    return objects_response(objects)


@router.post("/paginate", response_model=TaskRunPaginationResponse)
async def paginate_task_runs(
    database: DatabaseDep,
    settings: SettingsDep,
    body: Annotated[TaskRunsPaginateBody | None, Body()] = None,
) -> Response:
    """Pagination query for task runs."""
    body = body or TaskRunsPaginateBody()
    limit = checked_limit(body.limit, settings)
    now = _now()
    selection = body.selection()

    def page(connection: Any) -> tuple[list[str], int]:
        count = task_models.count_task_runs(connection, **selection)
        objects = task_models.read_task_runs(
            connection,
            **selection,
            sort=body.sort,
            offset=(body.page - 1) * limit,
            limit=limit,
            now=now,
        )
        return objects, count

    objects, count = await database.read(page)
    return objects_page_response(objects, count=count, limit=limit, page=body.page)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task_run(run_id: TaskRunId, database: DatabaseDep) -> None:
    """Delete a task run by id."""
    await database.write(lambda connection: task_models.delete_task_run(connection, run_id))


@router.post("/{id}/set_state", status_code=status.HTTP_201_CREATED)
async def set_task_run_state(
    run_id: TaskRunId,
    response: Response,
    database: DatabaseDep,
    version: ApiVersionDep,
    state: Annotated[StateCreate, Body(description="The intended state.")],
    force: Annotated[
        bool,
        Body(
            description=(
                "If false, orchestration rules will be applied that may alter or prevent the "
                "state transition. If True, orchestration rules are not applied."
            )
        ),
    ] = False,
) -> OrchestrationResult:
    """Set a task run state, invoking any orchestration rules (201 when a state is written)."""
    now = _now()
    outcome = await database.write(
        lambda connection: task_models.set_task_run_state(
            connection, run_id, state, now=now, force=force, api_version=version
        )
    )
    if not outcome.written:
        response.status_code = status.HTTP_200_OK
    return OrchestrationResult.model_validate(
        {"state": outcome.state, "status": outcome.status.value, "details": outcome.details}
    )
