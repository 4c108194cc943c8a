"""Request bodies for creating and updating flows, flow runs, task runs and logs.

All models ignore unknown fields (see :class:`~.base.ActionModel`). Update models should be
applied with :meth:`~.base.ActionModel.changes` (only the fields the client actually sent).
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field, field_validator

from .base import ActionModel, DateTime, KeyValueLabels, generate_slug
from .core import FLOW_NAME_PATTERN, FlowRunPolicy, TaskRunInput, TaskRunPolicy
from .states import StateCreate

__all__ = [
    "FlowCreate",
    "FlowRunCreate",
    "FlowRunUpdate",
    "FlowUpdate",
    "LogCreate",
    "TaskRunCreate",
    "TaskRunUpdate",
]

_LABELS_DESCRIPTION = (
    "A dictionary of key-value labels. Values can be strings, numbers, or booleans."
)
_LABELS_EXAMPLES: list[Any] = [{"key": "value1", "key2": 42}]
_TAGS_EXAMPLES: list[Any] = [["tag-1", "tag-2"]]


class FlowCreate(ActionModel):
    """Data used by the Prefect REST API to create a flow."""

    name: str = Field(
        description="The name of the flow", examples=["my-flow"], pattern=FLOW_NAME_PATTERN
    )
    tags: list[str] = Field(
        default_factory=list, description="A list of flow tags", examples=_TAGS_EXAMPLES
    )
    labels: KeyValueLabels | None = Field(
        default_factory=dict, description=_LABELS_DESCRIPTION, examples=_LABELS_EXAMPLES
    )


class FlowUpdate(ActionModel):
    """Data used by the Prefect REST API to update a flow."""

    tags: list[str] = Field(
        default_factory=list, description="A list of flow tags", examples=_TAGS_EXAMPLES
    )


class FlowRunCreate(ActionModel):
    """Data used by the Prefect REST API to create a flow run."""

    state: StateCreate | None = Field(
        default=None, description="The state of the flow run to create"
    )
    name: str = Field(
        default_factory=generate_slug,
        description="The name of the flow run. Defaults to a random slug if not specified.",
        examples=["my-flow-run"],
    )
    flow_id: uuid.UUID = Field(description="The id of the flow being run.")
    flow_version: str | None = Field(default=None, description="The version of the flow being run.")
    parameters: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(
        default_factory=dict, description="The context of the flow run."
    )
    parent_task_run_id: uuid.UUID | None = None
    infrastructure_document_id: uuid.UUID | None = None
    empirical_policy: FlowRunPolicy = Field(
        default_factory=FlowRunPolicy, description="The empirical policy for the flow run."
    )
    tags: list[str] = Field(
        default_factory=list,
        description="A list of tags for the flow run.",
        examples=_TAGS_EXAMPLES,
    )
    labels: KeyValueLabels | None = Field(
        default_factory=dict, description=_LABELS_DESCRIPTION, examples=_LABELS_EXAMPLES
    )
    idempotency_key: str | None = Field(
        default=None,
        description=(
            "An optional idempotency key. If a flow run with the same idempotency key has "
            "already been created, the existing flow run will be returned."
        ),
    )
    deployment_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "DEPRECATED: The id of the deployment associated with this flow run, if available."
        ),
        json_schema_extra={"deprecated": True},
    )
    work_pool_name: str | None = Field(
        default=None, description="The name of the work pool to run the flow run in."
    )
    work_queue_name: str | None = Field(
        default=None, description="The name of the work queue to place the flow run in."
    )
    job_variables: dict[str, Any] | None = Field(
        default=None,
        description="The job variables to use when setting up flow run infrastructure.",
    )

    @field_validator("name", mode="before")
    @classmethod
    def _name_defaults_when_null(cls, value: object) -> object:
        """Clients send ``"name": null`` to mean "pick one"."""
        return generate_slug() if value is None else value


class FlowRunUpdate(ActionModel):
    """Data used by the Prefect REST API to update a flow run."""

    name: str | None = None
    flow_version: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    empirical_policy: FlowRunPolicy = Field(default_factory=FlowRunPolicy)
    tags: list[str] = Field(default_factory=list)
    infrastructure_pid: str | None = None
    job_variables: dict[str, Any] | None = None


class TaskRunCreate(ActionModel):
    """Data used by the Prefect REST API to create a task run."""

    id: uuid.UUID | None = Field(
        default=None,
        description=(
            "The ID to assign to the task run. If not provided, a random UUID will be generated."
        ),
    )
    state: StateCreate | None = Field(
        default=None, description="The state of the task run to create"
    )
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
    task_inputs: dict[str, list[TaskRunInput]] = Field(
        default_factory=dict, description="The inputs to the task run."
    )


class TaskRunUpdate(ActionModel):
    """Data used by the Prefect REST API to update a task run."""

    name: str = Field(default_factory=generate_slug, examples=["my-task-run"])


class LogCreate(ActionModel):
    """Data used by the Prefect REST API to create a log."""

    name: str = Field(description="The logger name.")
    level: int = Field(description="The log level.")
    message: str = Field(description="The log message.")
    timestamp: DateTime = Field(description="The log timestamp.")
    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
