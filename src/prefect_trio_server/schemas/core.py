"""Response models for flows, flow runs, task runs and logs."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from .base import DateTime, KeyValueLabels, ObjectModel, PrefectBaseModel, generate_slug
from .states import State, StateType

__all__ = [
    "FLOW_NAME_PATTERN",
    "Constant",
    "CreatedBy",
    "Flow",
    "FlowRun",
    "FlowRunPolicy",
    "FlowRunResult",
    "Log",
    "Parameter",
    "TaskRun",
    "TaskRunInput",
    "TaskRunPolicy",
    "TaskRunResult",
]

FLOW_NAME_PATTERN = r"^[^/%&><]+$"
"""Flow names may not contain ``/ % & > <`` (they appear in URL paths)."""

_DEPRECATED: dict[str, Any] = {"deprecated": True}
_LABELS_DESCRIPTION = (
    "A dictionary of key-value labels. Values can be strings, numbers, or booleans."
)
_LABELS_EXAMPLES: list[Any] = [{"key": "value1", "key2": 42}]
_TAGS_EXAMPLES: list[Any] = [["tag-1", "tag-2"]]


class CreatedBy(PrefectBaseModel):
    """Who or what created an object (e.g. a deployment's scheduler or an automation)."""

    id: uuid.UUID | None = Field(default=None, description="The id of the creator of the object.")
    type: str | None = Field(default=None, description="The type of the creator of the object.")
    display_value: str | None = Field(
        default=None, description="The display value for the creator."
    )


class FlowRunPolicy(PrefectBaseModel):
    """Defines of how a flow run should retry."""

    max_retries: int = Field(
        default=0,
        description=(
            "The maximum number of retries. Field is not used. Please use `retries` instead."
        ),
        json_schema_extra=_DEPRECATED,
    )
    retry_delay_seconds: float = Field(
        default=0,
        description=(
            "The delay between retries. Field is not used. Please use `retry_delay` instead."
        ),
        json_schema_extra=_DEPRECATED,
    )
    retries: int | None = Field(default=None, description="The number of retries.")
    retry_delay: int | None = Field(
        default=None, description="The delay time between retries, in seconds."
    )
    pause_keys: set[str] | None = Field(
        default_factory=set, description="Tracks pauses this run has observed."
    )
    resuming: bool | None = Field(
        default=False, description="Indicates if this run is resuming from a pause."
    )
    retry_type: Literal["in_process", "reschedule"] | None = Field(
        default=None, description="The type of retry this run is undergoing."
    )


class TaskRunPolicy(PrefectBaseModel):
    """Defines of how a task run should retry."""

    max_retries: int = Field(
        default=0,
        description=(
            "The maximum number of retries. Field is not used. Please use `retries` instead."
        ),
        json_schema_extra=_DEPRECATED,
    )
    retry_delay_seconds: float = Field(
        default=0,
        description=(
            "The delay between retries. Field is not used. Please use `retry_delay` instead."
        ),
        json_schema_extra=_DEPRECATED,
    )
    retries: int | None = Field(default=None, description="The number of retries.")
    retry_delay: int | float | list[int] | list[float] | None = Field(
        default=None,
        description="A delay time or list of delay times between retries, in seconds.",
    )
    retry_jitter_factor: float | None = Field(
        default=None, description="Determines the amount a retry should jitter"
    )


class TaskRunResult(PrefectBaseModel):
    """A task input that is the result of an upstream task run."""

    input_type: Literal["task_run"] = "task_run"
    id: uuid.UUID


class FlowRunResult(PrefectBaseModel):
    """A task input that is the result of a flow run."""

    input_type: Literal["flow_run"] = "flow_run"
    id: uuid.UUID


class Parameter(PrefectBaseModel):
    """A task input that is a parameter of the enclosing flow run."""

    input_type: Literal["parameter"] = "parameter"
    name: str


class Constant(PrefectBaseModel):
    """A task input that is a constant value (only its type is tracked)."""

    input_type: Literal["constant"] = "constant"
    type: str


TaskRunInput = TaskRunResult | FlowRunResult | Parameter | Constant
"""One tracked source of a task run input."""


class Flow(ObjectModel):
    """An ORM representation of flow data."""

    name: str = Field(
        description="The name of the flow", examples=["my-flow"], pattern=FLOW_NAME_PATTERN
    )
    tags: list[str] = Field(
        default_factory=list, description="A list of flow tags", examples=_TAGS_EXAMPLES
    )
    labels: KeyValueLabels | None = Field(
        default_factory=dict, description=_LABELS_DESCRIPTION, examples=_LABELS_EXAMPLES
    )


class FlowRun(ObjectModel):
    """An ORM representation of flow run data."""

    name: str = Field(
        default_factory=generate_slug,
        description="The name of the flow run. Defaults to a random slug if not specified.",
        examples=["my-flow-run"],
    )
    flow_id: uuid.UUID = Field(description="The id of the flow being run.")
    state_id: uuid.UUID | None = Field(
        default=None, description="The id of the flow run's current state."
    )
    deployment_id: uuid.UUID | None = Field(
        default=None,
        description="The id of the deployment associated with this flow run, if available.",
    )
    deployment_version: str | None = Field(
        default=None,
        description="The version of the deployment associated with this flow run.",
        examples=["1.0"],
    )
    work_queue_name: str | None = Field(
        default=None, description="The work queue that handled this flow run."
    )
    flow_version: str | None = Field(
        default=None,
        description="The version of the flow executed in this flow run.",
        examples=["1.0"],
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Parameters for the flow run."
    )
    idempotency_key: str | None = Field(
        default=None,
        description=(
            "An optional idempotency key for the flow run. Used to ensure the same flow run is "
            "not created multiple times."
        ),
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Additional context for the flow run.",
        examples=[{"my_var": "my_value"}],
    )
    empirical_policy: FlowRunPolicy = Field(default_factory=FlowRunPolicy)
    tags: list[str] = Field(
        default_factory=list, description="A list of tags on the flow run", examples=_TAGS_EXAMPLES
    )
    labels: KeyValueLabels | None = Field(
        default_factory=dict, description=_LABELS_DESCRIPTION, examples=_LABELS_EXAMPLES
    )
    parent_task_run_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "If the flow run is a subflow, the id of the 'dummy' task in the parent flow used to "
            "track subflow state."
        ),
    )
    state_type: StateType | None = Field(
        default=None, description="The type of the current flow run state."
    )
    state_name: str | None = Field(
        default=None, description="The name of the current flow run state."
    )
    run_count: int = Field(default=0, description="The number of times the flow run was executed.")
    expected_start_time: DateTime | None = Field(
        default=None, description="The flow run's expected start time."
    )
    next_scheduled_start_time: DateTime | None = Field(
        default=None, description="The next time the flow run is scheduled to start."
    )
    start_time: DateTime | None = Field(default=None, description="The actual start time.")
    end_time: DateTime | None = Field(default=None, description="The actual end time.")
    total_run_time: float = Field(
        default=0.0,
        description=(
            "Total run time. If the flow run was executed multiple times, the time of each run "
            "will be summed."
        ),
    )
    estimated_run_time: float = Field(
        default=0.0, description="A real-time estimate of the total run time."
    )
    estimated_start_time_delta: float = Field(
        default=0.0, description="The difference between actual and expected start time."
    )
    auto_scheduled: bool = Field(
        default=False, description="Whether or not the flow run was automatically scheduled."
    )
    infrastructure_document_id: uuid.UUID | None = Field(
        default=None,
        description="The block document defining infrastructure to use this flow run.",
    )
    infrastructure_pid: str | None = Field(
        default=None,
        description="The id of the flow run as returned by an infrastructure block.",
    )
    created_by: CreatedBy | None = Field(
        default=None, description="Optional information about the creator of this flow run."
    )
    work_queue_id: uuid.UUID | None = Field(
        default=None, description="The id of the run's work pool queue."
    )
    job_variables: dict[str, Any] | None = Field(
        default=None, description="Variables used as overrides in the base job template"
    )
    state: State | None = Field(default=None, description="The current state of the flow run.")


class TaskRun(ObjectModel):
    """An ORM representation of task run data."""

    name: str = Field(default_factory=generate_slug, examples=["my-task-run"])
    flow_run_id: uuid.UUID | None = Field(
        default=None, description="The flow run id of the task run."
    )
    task_key: str = Field(description="A unique identifier for the task being run.")
    dynamic_key: str = Field(
        description=(
            "A dynamic key used to differentiate between multiple runs of the same task within "
            "the same flow run."
        )
    )
    cache_key: str | None = Field(
        default=None,
        description=(
            "An optional cache key. If a COMPLETED state associated with this cache key is found, "
            "the cached COMPLETED state will be used instead of executing the task run."
        ),
    )
    cache_expiration: DateTime | None = Field(
        default=None, description="Specifies when the cached state should expire."
    )
    task_version: str | None = Field(default=None, description="The version of the task being run.")
    empirical_policy: TaskRunPolicy = Field(default_factory=TaskRunPolicy)
    tags: list[str] = Field(
        default_factory=list,
        description="A list of tags for the task run.",
        examples=_TAGS_EXAMPLES,
    )
    labels: KeyValueLabels | None = Field(
        default_factory=dict, description=_LABELS_DESCRIPTION, examples=_LABELS_EXAMPLES
    )
    state_id: uuid.UUID | None = Field(
        default=None, description="The id of the current task run state."
    )
    task_inputs: dict[str, list[TaskRunInput]] = Field(
        default_factory=dict,
        description=("Tracks the source of inputs to a task run. Used for internal bookkeeping."),
    )
    state_type: StateType | None = Field(
        default=None, description="The type of the current task run state."
    )
    state_name: str | None = Field(
        default=None, description="The name of the current task run state."
    )
    run_count: int = Field(
        default=0, description="The number of times the task run has been executed."
    )
    flow_run_run_count: int = Field(
        default=0,
        description=(
            "If the parent flow has retried, this indicates the flow retry this run is "
            "associated with."
        ),
    )
    expected_start_time: DateTime | None = Field(
        default=None, description="The task run's expected start time."
    )
    next_scheduled_start_time: DateTime | None = Field(
        default=None, description="The next time the task run is scheduled to start."
    )
    start_time: DateTime | None = Field(default=None, description="The actual start time.")
    end_time: DateTime | None = Field(default=None, description="The actual end time.")
    total_run_time: float = Field(
        default=0.0,
        description=(
            "Total run time. If the task run was executed multiple times, the time of each run "
            "will be summed."
        ),
    )
    estimated_run_time: float = Field(
        default=0.0, description="A real-time estimate of total run time."
    )
    estimated_start_time_delta: float = Field(
        default=0.0, description="The difference between actual and expected start time."
    )
    state: State | None = Field(default=None, description="The current task run state.")


class Log(ObjectModel):
    """An ORM representation of log data."""

    name: str = Field(description="The logger name.")
    level: int = Field(description="The log level.")
    message: str = Field(description="The log message.")
    timestamp: DateTime = Field(description="The log timestamp.")
    flow_run_id: uuid.UUID | None = Field(
        default=None, description="The flow run ID associated with the log."
    )
    task_run_id: uuid.UUID | None = Field(
        default=None, description="The task run ID associated with the log."
    )


class FlowRunResponse(FlowRun):
    """A flow run as the API returns it: with its work pool (none until work pools exist)."""

    work_pool_id: uuid.UUID | None = Field(
        default=None, description="The id of the flow run's work pool."
    )
    work_pool_name: str | None = Field(
        default=None,
        description="The name of the flow run's work pool.",
        examples=["my-work-pool"],
    )
