"""Filter request bodies for task runs and logs (models only; re-exported by :mod:`.filters`).

Semantics as in :mod:`.filters`: ``None`` criteria are ignored, criteria within one filter object
are combined with its ``operator``, and unknown criteria are rejected.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from .base import DateTime, FilterModel, OperatorFilter
from .states import StateType

__all__ = [
    "LogFilter",
    "LogFilterFlowRunId",
    "LogFilterLevel",
    "LogFilterTaskRunId",
    "LogFilterTextSearch",
    "LogFilterTimestamp",
    "TaskRunFilter",
    "TaskRunFilterEndTime",
    "TaskRunFilterExpectedStartTime",
    "TaskRunFilterFlowRunId",
    "TaskRunFilterId",
    "TaskRunFilterName",
    "TaskRunFilterStartTime",
    "TaskRunFilterState",
    "TaskRunFilterStateName",
    "TaskRunFilterStateType",
    "TaskRunFilterSubFlowRuns",
    "TaskRunFilterTags",
]

_TAG_EXAMPLES: list[Any] = [["tag-1", "tag-2"]]


# ----------------------------------------------------------------------------------- task runs


class TaskRunFilterFlowRunId(OperatorFilter):
    """Filter by `TaskRun.flow_run_id`."""

    any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of task run flow run ids to include"
    )
    is_null_: bool | None = Field(
        default=False, description="Filter for task runs with None as their flow run id"
    )


class TaskRunFilterId(FilterModel):
    """Filter by `TaskRun.id`."""

    any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of task run ids to include"
    )


class TaskRunFilterName(FilterModel):
    """Filter by `TaskRun.name`."""

    any_: list[str] | None = Field(
        default=None,
        description="A list of task run names to include",
        examples=[["my-task-run-1", "my-task-run-2"]],
    )
    like_: str | None = Field(
        default=None,
        description=(
            "A case-insensitive partial match. For example,  passing 'marvin' will match "
            "'marvin', 'sad-Marvin', and 'marvin-robot'."
        ),
        examples=["marvin"],
    )


class TaskRunFilterTags(OperatorFilter):
    """Filter by `TaskRun.tags`."""

    all_: list[str] | None = Field(
        default=None,
        description=(
            "A list of tags. Task runs will be returned only if their tags are a superset of "
            "the list"
        ),
        examples=_TAG_EXAMPLES,
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only include task runs without tags"
    )


class TaskRunFilterStateType(FilterModel):
    """Filter by `TaskRun.state_type`."""

    any_: list[StateType] | None = Field(
        default=None, description="A list of task run state types to include"
    )


class TaskRunFilterStateName(FilterModel):
    """Filter by `TaskRun.state_name`."""

    any_: list[str] | None = Field(
        default=None, description="A list of task run state names to include"
    )


class TaskRunFilterState(OperatorFilter):
    """Filter by `TaskRun.type` and `TaskRun.name`."""

    type: TaskRunFilterStateType | None = Field(
        default=None, description="Filter criteria for `TaskRun.state_type`"
    )
    name: TaskRunFilterStateName | None = Field(
        default=None, description="Filter criteria for `TaskRun.state_name`"
    )


class TaskRunFilterSubFlowRuns(FilterModel):
    """Filter by `TaskRun.subflow_run`."""

    exists_: bool | None = Field(
        default=None,
        description=(
            "If true, only include task runs that are subflow run parents; if false, exclude "
            "parent task runs"
        ),
    )


class TaskRunFilterStartTime(FilterModel):
    """Filter by `TaskRun.start_time`."""

    before_: DateTime | None = Field(
        default=None, description="Only include task runs starting at or before this time"
    )
    after_: DateTime | None = Field(
        default=None, description="Only include task runs starting at or after this time"
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only return task runs without a start time"
    )


class TaskRunFilterEndTime(FilterModel):
    """Filter by `TaskRun.end_time`."""

    before_: DateTime | None = Field(
        default=None, description="Only include task runs ending at or before this time"
    )
    after_: DateTime | None = Field(
        default=None, description="Only include task runs ending at or after this time"
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only return task runs without an end time"
    )


class TaskRunFilterExpectedStartTime(FilterModel):
    """Filter by `TaskRun.expected_start_time`."""

    before_: DateTime | None = Field(
        default=None,
        description="Only include task runs expected to start at or before this time",
    )
    after_: DateTime | None = Field(
        default=None,
        description="Only include task runs expected to start at or after this time",
    )


class TaskRunFilter(OperatorFilter):
    """Filter task runs. Only task runs matching all criteria will be returned"""

    id: TaskRunFilterId | None = Field(default=None, description="Filter criteria for `TaskRun.id`")
    name: TaskRunFilterName | None = Field(
        default=None, description="Filter criteria for `TaskRun.name`"
    )
    tags: TaskRunFilterTags | None = Field(
        default=None, description="Filter criteria for `TaskRun.tags`"
    )
    state: TaskRunFilterState | None = Field(
        default=None, description="Filter criteria for `TaskRun.state`"
    )
    start_time: TaskRunFilterStartTime | None = Field(
        default=None, description="Filter criteria for `TaskRun.start_time`"
    )
    end_time: TaskRunFilterEndTime | None = Field(
        default=None, description="Filter criteria for `TaskRun.end_time`"
    )
    expected_start_time: TaskRunFilterExpectedStartTime | None = Field(
        default=None, description="Filter criteria for `TaskRun.expected_start_time`"
    )
    subflow_runs: TaskRunFilterSubFlowRuns | None = Field(
        default=None, description="Filter criteria for `TaskRun.subflow_run`"
    )
    flow_run_id: TaskRunFilterFlowRunId | None = Field(
        default=None, description="Filter criteria for `TaskRun.flow_run_id`"
    )


# ---------------------------------------------------------------------------------------- logs


class LogFilterLevel(FilterModel):
    """Filter by `Log.level`."""

    ge_: int | None = Field(
        default=None,
        description="Include logs with a level greater than or equal to this level",
        examples=[20],
    )
    le_: int | None = Field(
        default=None,
        description="Include logs with a level less than or equal to this level",
        examples=[50],
    )


class LogFilterTimestamp(FilterModel):
    """Filter by `Log.timestamp`."""

    before_: DateTime | None = Field(
        default=None, description="Only include logs with a timestamp at or before this time"
    )
    after_: DateTime | None = Field(
        default=None, description="Only include logs with a timestamp at or after this time"
    )


class LogFilterFlowRunId(FilterModel):
    """Filter by `Log.flow_run_id`."""

    any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of flow run IDs to include"
    )


class LogFilterTaskRunId(FilterModel):
    """Filter by `Log.task_run_id`."""

    any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of task run IDs to include"
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only include logs without a task run id"
    )


class LogFilterTextSearch(FilterModel):
    """Filter by text search across log content.

    The reference examples show the query syntax: ``error``, ``error -debug`` (exclusion),
    ``"connection timeout"`` (phrase) and ``+required -excluded``.
    """

    query: str = Field(
        max_length=200,
        description="Text search query string",
        examples=["error", "error -debug", '"connection timeout"', "+required -excluded"],
    )


class LogFilter(OperatorFilter):
    """Filter logs. Only logs matching all criteria will be returned"""

    level: LogFilterLevel | None = Field(
        default=None, description="Filter criteria for `Log.level`"
    )
    timestamp: LogFilterTimestamp | None = Field(
        default=None, description="Filter criteria for `Log.timestamp`"
    )
    flow_run_id: LogFilterFlowRunId | None = Field(
        default=None, description="Filter criteria for `Log.flow_run_id`"
    )
    task_run_id: LogFilterTaskRunId | None = Field(
        default=None, description="Filter criteria for `Log.task_run_id`"
    )
    text: LogFilterTextSearch | None = Field(
        default=None, description="Filter criteria for text search across log content"
    )
