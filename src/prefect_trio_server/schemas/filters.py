"""Filter request bodies for flows, flow runs, task runs and logs (models only).

Every criterion is optional; a criterion left as ``None`` does not constrain the result. Within a
filter object the criteria are combined with its ``operator`` (``and_`` by default, or ``or_``),
and filter objects nest (e.g. ``FlowRunFilter.state.type.any_``). Translating them to SQL is the
job of the database layer. Task run and log filters live in :mod:`.filters_task_runs` and
are re-exported here.

Unlike create/update bodies, filters reject unknown fields (as the reference server does):
silently dropping a criterion we do not understand would return (or delete) too many rows.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from .base import DateTime, FilterModel, Operator, OperatorFilter
from .filters_task_runs import (
    LogFilter,
    LogFilterFlowRunId,
    LogFilterLevel,
    LogFilterTaskRunId,
    LogFilterTextSearch,
    LogFilterTimestamp,
    TaskRunFilter,
    TaskRunFilterEndTime,
    TaskRunFilterExpectedStartTime,
    TaskRunFilterFlowRunId,
    TaskRunFilterId,
    TaskRunFilterName,
    TaskRunFilterStartTime,
    TaskRunFilterState,
    TaskRunFilterStateName,
    TaskRunFilterStateType,
    TaskRunFilterSubFlowRuns,
    TaskRunFilterTags,
)
from .states import StateType

__all__ = [
    "FilterModel",
    "FlowFilter",
    "FlowFilterDeployment",
    "FlowFilterId",
    "FlowFilterName",
    "FlowFilterTags",
    "FlowRunFilter",
    "FlowRunFilterCreatedBy",
    "FlowRunFilterDeploymentId",
    "FlowRunFilterEndTime",
    "FlowRunFilterExpectedStartTime",
    "FlowRunFilterFlowVersion",
    "FlowRunFilterId",
    "FlowRunFilterIdempotencyKey",
    "FlowRunFilterName",
    "FlowRunFilterNextScheduledStartTime",
    "FlowRunFilterParentFlowRunId",
    "FlowRunFilterParentTaskRunId",
    "FlowRunFilterStartTime",
    "FlowRunFilterState",
    "FlowRunFilterStateName",
    "FlowRunFilterStateType",
    "FlowRunFilterTags",
    "FlowRunFilterWorkQueueName",
    "LogFilter",
    "LogFilterFlowRunId",
    "LogFilterLevel",
    "LogFilterTaskRunId",
    "LogFilterTextSearch",
    "LogFilterTimestamp",
    "Operator",
    "OperatorFilter",
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

_LIKE_DESCRIPTION = (
    "A case-insensitive partial match. For example,  passing 'marvin' will match 'marvin', "
    "'sad-Marvin', and 'marvin-robot'."
)
_TAG_EXAMPLES: list[Any] = [["tag-1", "tag-2"]]


# --------------------------------------------------------------------------------------- flows


class FlowFilterId(FilterModel):
    """Filter by `Flow.id`."""

    any_: list[uuid.UUID] | None = Field(default=None, description="A list of flow ids to include")
    not_any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of flow ids to exclude"
    )


class FlowFilterDeployment(OperatorFilter):
    """Filter by flows by deployment"""

    is_null_: bool | None = Field(
        default=None, description="If true, only include flows without deployments"
    )


class FlowFilterName(FilterModel):
    """Filter by `Flow.name`."""

    any_: list[str] | None = Field(
        default=None,
        description="A list of flow names to include",
        examples=[["my-flow-1", "my-flow-2"]],
    )
    like_: str | None = Field(default=None, description=_LIKE_DESCRIPTION, examples=["marvin"])


class FlowFilterTags(OperatorFilter):
    """Filter by `Flow.tags`."""

    all_: list[str] | None = Field(
        default=None,
        description=(
            "A list of tags. Flows will be returned only if their tags are a superset of the list"
        ),
        examples=_TAG_EXAMPLES,
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only include flows without tags"
    )


class FlowFilter(OperatorFilter):
    """Filter for flows. Only flows matching all criteria will be returned."""

    id: FlowFilterId | None = Field(default=None, description="Filter criteria for `Flow.id`")
    deployment: FlowFilterDeployment | None = Field(
        default=None, description="Filter criteria for Flow deployments"
    )
    name: FlowFilterName | None = Field(default=None, description="Filter criteria for `Flow.name`")
    tags: FlowFilterTags | None = Field(default=None, description="Filter criteria for `Flow.tags`")


# ----------------------------------------------------------------------------------- flow runs


class FlowRunFilterId(FilterModel):
    """Filter by `FlowRun.id`."""

    any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of flow run ids to include"
    )
    not_any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of flow run ids to exclude"
    )


class FlowRunFilterName(FilterModel):
    """Filter by `FlowRun.name`."""

    any_: list[str] | None = Field(
        default=None,
        description="A list of flow run names to include",
        examples=[["my-flow-run-1", "my-flow-run-2"]],
    )
    like_: str | None = Field(default=None, description=_LIKE_DESCRIPTION, examples=["marvin"])


class FlowRunFilterTags(OperatorFilter):
    """Filter by `FlowRun.tags`."""

    all_: list[str] | None = Field(
        default=None,
        description=(
            "A list of tags. Flow runs will be returned only if their tags are a superset of "
            "the list"
        ),
        examples=_TAG_EXAMPLES,
    )
    any_: list[str] | None = Field(
        default=None, description="A list of tags to include", examples=_TAG_EXAMPLES
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only include flow runs without tags"
    )


class FlowRunFilterDeploymentId(OperatorFilter):
    """Filter by `FlowRun.deployment_id`."""

    any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of flow run deployment ids to include"
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only include flow runs without deployment ids"
    )


class FlowRunFilterWorkQueueName(OperatorFilter):
    """Filter by `FlowRun.work_queue_name`."""

    any_: list[str] | None = Field(
        default=None,
        description="A list of work queue names to include",
        examples=[["work_queue_1", "work_queue_2"]],
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only include flow runs without work queue names"
    )


class FlowRunFilterStateType(FilterModel):
    """Filter by `FlowRun.state_type`."""

    any_: list[StateType] | None = Field(
        default=None, description="A list of flow run state types to include"
    )
    not_any_: list[StateType] | None = Field(
        default=None, description="A list of flow run state types to exclude"
    )


class FlowRunFilterStateName(FilterModel):
    """Filter by `FlowRun.state_name`."""

    any_: list[str] | None = Field(
        default=None, description="A list of flow run state names to include"
    )
    not_any_: list[str] | None = Field(
        default=None, description="A list of flow run state names to exclude"
    )


class FlowRunFilterState(OperatorFilter):
    """Filter by `FlowRun.state_type` and `FlowRun.state_name`."""

    type: FlowRunFilterStateType | None = Field(
        default=None, description="Filter criteria for `FlowRun.state_type`"
    )
    name: FlowRunFilterStateName | None = Field(
        default=None, description="Filter criteria for `FlowRun.state_name`"
    )


class FlowRunFilterFlowVersion(FilterModel):
    """Filter by `FlowRun.flow_version`."""

    any_: list[str] | None = Field(
        default=None, description="A list of flow run flow_versions to include"
    )


class FlowRunFilterStartTime(FilterModel):
    """Filter by `FlowRun.start_time`."""

    before_: DateTime | None = Field(
        default=None, description="Only include flow runs starting at or before this time"
    )
    after_: DateTime | None = Field(
        default=None, description="Only include flow runs starting at or after this time"
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only return flow runs without a start time"
    )


class FlowRunFilterEndTime(FilterModel):
    """Filter by `FlowRun.end_time`."""

    before_: DateTime | None = Field(
        default=None, description="Only include flow runs ending at or before this time"
    )
    after_: DateTime | None = Field(
        default=None, description="Only include flow runs ending at or after this time"
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only return flow runs without an end time"
    )


class FlowRunFilterExpectedStartTime(FilterModel):
    """Filter by `FlowRun.expected_start_time`."""

    before_: DateTime | None = Field(
        default=None,
        description="Only include flow runs scheduled to start at or before this time",
    )
    after_: DateTime | None = Field(
        default=None,
        description="Only include flow runs scheduled to start at or after this time",
    )


class FlowRunFilterNextScheduledStartTime(FilterModel):
    """Filter by `FlowRun.next_scheduled_start_time`."""

    before_: DateTime | None = Field(
        default=None,
        description=("Only include flow runs with a next_scheduled_start_time or before this time"),
    )
    after_: DateTime | None = Field(
        default=None,
        description=(
            "Only include flow runs with a next_scheduled_start_time at or after this time"
        ),
    )


class FlowRunFilterParentFlowRunId(OperatorFilter):
    """Filter for subflows of a given flow run"""

    any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of parent flow run ids to include"
    )


class FlowRunFilterParentTaskRunId(OperatorFilter):
    """Filter by `FlowRun.parent_task_run_id`."""

    any_: list[uuid.UUID] | None = Field(
        default=None, description="A list of flow run parent_task_run_ids to include"
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only include flow runs without parent_task_run_id"
    )


class FlowRunFilterIdempotencyKey(FilterModel):
    """Filter by FlowRun.idempotency_key."""

    any_: list[str] | None = Field(
        default=None, description="A list of flow run idempotency keys to include"
    )
    not_any_: list[str] | None = Field(
        default=None, description="A list of flow run idempotency keys to exclude"
    )


class FlowRunFilterCreatedBy(OperatorFilter):
    """Filter by `FlowRun.created_by`."""

    id_: list[uuid.UUID] | None = Field(
        default=None, description="A list of creator IDs to include"
    )
    type_: list[str] | None = Field(
        default=None,
        description=(
            "A list of creator types to include. For example, 'DEPLOYMENT' for scheduled runs "
            "or 'AUTOMATION' for runs triggered by automations."
        ),
        examples=[["DEPLOYMENT", "AUTOMATION"]],
    )
    is_null_: bool | None = Field(
        default=None, description="If true, only include flow runs without a creator"
    )


class FlowRunFilter(OperatorFilter):
    """Filter flow runs. Only flow runs matching all criteria will be returned"""

    id: FlowRunFilterId | None = Field(default=None, description="Filter criteria for `FlowRun.id`")
    name: FlowRunFilterName | None = Field(
        default=None, description="Filter criteria for `FlowRun.name`"
    )
    tags: FlowRunFilterTags | None = Field(
        default=None, description="Filter criteria for `FlowRun.tags`"
    )
    deployment_id: FlowRunFilterDeploymentId | None = Field(
        default=None, description="Filter criteria for `FlowRun.deployment_id`"
    )
    work_queue_name: FlowRunFilterWorkQueueName | None = Field(
        default=None, description="Filter criteria for `FlowRun.work_queue_name"
    )
    state: FlowRunFilterState | None = Field(
        default=None, description="Filter criteria for `FlowRun.state`"
    )
    flow_version: FlowRunFilterFlowVersion | None = Field(
        default=None, description="Filter criteria for `FlowRun.flow_version`"
    )
    start_time: FlowRunFilterStartTime | None = Field(
        default=None, description="Filter criteria for `FlowRun.start_time`"
    )
    end_time: FlowRunFilterEndTime | None = Field(
        default=None, description="Filter criteria for `FlowRun.end_time`"
    )
    expected_start_time: FlowRunFilterExpectedStartTime | None = Field(
        default=None, description="Filter criteria for `FlowRun.expected_start_time`"
    )
    next_scheduled_start_time: FlowRunFilterNextScheduledStartTime | None = Field(
        default=None, description="Filter criteria for `FlowRun.next_scheduled_start_time`"
    )
    parent_flow_run_id: FlowRunFilterParentFlowRunId | None = Field(
        default=None, description="Filter criteria for subflows of the given flow runs"
    )
    parent_task_run_id: FlowRunFilterParentTaskRunId | None = Field(
        default=None, description="Filter criteria for `FlowRun.parent_task_run_id`"
    )
    idempotency_key: FlowRunFilterIdempotencyKey | None = Field(
        default=None, description="Filter criteria for `FlowRun.idempotency_key`"
    )
    created_by: FlowRunFilterCreatedBy | None = Field(
        default=None, description="Filter criteria for `FlowRun.created_by`"
    )
