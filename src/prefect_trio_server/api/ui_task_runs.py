"""UI aggregates over task runs: ``/ui/task_runs``. Dashboard counts, counts by state, and a
task run with its flow run's name.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import Body, HTTPException, Path, status
from pydantic import Field

from ..models import ui as ui_models
from ..schemas.base import PrefectBaseModel
from ..schemas.core import TaskRun
from ..schemas.filters import FlowFilter, FlowRunFilter, TaskRunFilter
from .dependencies import DatabaseDep
from .routing import DeferredRouter

router = DeferredRouter(prefix="/ui/task_runs", tags=["Task Runs", "UI"])


class TaskRunCount(PrefectBaseModel):
    completed: int = Field(description="The number of completed task runs.")
    failed: int = Field(description="The number of failed task runs.")


class CountByState(PrefectBaseModel):
    """Task runs counted by state type."""

    COMPLETED: int = Field(default=0)
    PENDING: int = Field(default=0)
    RUNNING: int = Field(default=0)
    FAILED: int = Field(default=0)
    CANCELLED: int = Field(default=0)
    CRASHED: int = Field(default=0)
    PAUSED: int = Field(default=0)
    CANCELLING: int = Field(default=0)
    SCHEDULED: int = Field(default=0)


class UITaskRun(TaskRun):
    """A task run with the name of its flow run."""

    flow_run_name: str | None = Field(default=None)


@router.post("/dashboard/counts")
async def read_dashboard_task_run_counts(
    database: DatabaseDep,
    task_runs: Annotated[TaskRunFilter, Body()],
    flows: Annotated[FlowFilter | None, Body()] = None,
    flow_runs: Annotated[FlowRunFilter | None, Body()] = None,
    deployments: Annotated[dict[str, Any] | None, Body()] = None,
    work_pools: Annotated[dict[str, Any] | None, Body()] = None,
    work_queues: Annotated[dict[str, Any] | None, Body()] = None,
) -> list[TaskRunCount]:
    """Completed and failed (or crashed) task runs in 20 intervals of their start time,
    between ``task_runs.start_time.after_`` (required) and ``before_`` (default: now)."""
    now = dt.datetime.now(dt.UTC)
    rows = await database.read(
        lambda connection: ui_models.dashboard_task_run_counts(
            connection,
            task_runs=task_runs,
            flows=flows,
            flow_runs=flow_runs,
            deployments=deployments,
            work_pools=work_pools,
            work_queues=work_queues,
            now=now,
        )
    )
    return [TaskRunCount.model_validate(row) for row in rows]


@router.post("/count")
async def read_task_run_counts_by_state(
    database: DatabaseDep,
    flows: Annotated[FlowFilter | None, Body()] = None,
    flow_runs: Annotated[FlowRunFilter | None, Body()] = None,
    task_runs: Annotated[TaskRunFilter | None, Body()] = None,
    deployments: Annotated[dict[str, Any] | None, Body()] = None,
) -> CountByState:
    """Task runs counted by state type."""
    counts = await database.read(
        lambda connection: ui_models.count_task_runs_by_state(
            connection,
            flows=flows,
            flow_runs=flow_runs,
            task_runs=task_runs,
            deployments=deployments,
        )
    )
    return CountByState.model_validate(counts)


@router.get("/{id}")
async def read_task_run_with_flow_run_name(
    run_id: Annotated[uuid.UUID, Path(description="The task run id", alias="id")],
    database: DatabaseDep,
) -> UITaskRun:
    """Get a task run by id."""
    now = dt.datetime.now(dt.UTC)
    row = await database.read(
        lambda connection: ui_models.read_task_run_with_flow_run_name(connection, run_id, now=now)
    )
    if row is None:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Task not found")
    return UITaskRun.model_validate(row)
