"""Run states and the result of orchestrating a proposed state."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, Literal

from pydantic import Field

from .base import ActionModel, DateTime, IDModel, PrefectBaseModel

__all__ = [
    "TERMINAL_STATE_TYPES",
    "OrchestrationDetails",
    "OrchestrationResult",
    "SetStateStatus",
    "State",
    "StateAbortDetails",
    "StateAcceptDetails",
    "StateCreate",
    "StateDetails",
    "StateRejectDetails",
    "StateType",
    "StateWaitDetails",
]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StateType(enum.StrEnum):
    """Enumeration of state types."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"


TERMINAL_STATE_TYPES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)


class SetStateStatus(enum.StrEnum):
    """Enumerates return statuses for setting run states."""

    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    ABORT = "ABORT"
    WAIT = "WAIT"


class StateDetails(PrefectBaseModel):
    """Extra bookkeeping attached to a state (links to runs, caching, pausing, tracing)."""

    flow_run_id: uuid.UUID | None = None
    task_run_id: uuid.UUID | None = None
    child_flow_run_id: uuid.UUID | None = None
    scheduled_time: DateTime | None = None
    cache_key: str | None = None
    cache_expiration: DateTime | None = None
    deferred: bool | None = False
    untrackable_result: bool = False
    pause_timeout: DateTime | None = None
    pause_reschedule: bool = False
    pause_key: str | None = None
    run_input_keyset: dict[str, str] | None = None
    refresh_cache: bool | None = None
    retriable: bool | None = None
    transition_id: uuid.UUID | None = None
    task_parameters_id: uuid.UUID | None = None
    traceparent: str | None = None
    deployment_concurrency_lease_id: uuid.UUID | None = None


class State(IDModel):
    """Represents the state of a run."""

    type: StateType
    name: str | None = None
    timestamp: DateTime = Field(default_factory=_utcnow)
    message: str | None = Field(default=None, examples=["Run started"])
    data: Any | None = Field(
        default=None,
        description=(
            "Data associated with the state, e.g. a result. Content must be storable as JSON."
        ),
    )
    state_details: StateDetails = Field(default_factory=StateDetails)


class StateCreate(ActionModel):
    """Data used by the Prefect REST API to create a new state."""

    type: StateType = Field(description="The type of the state to create")
    name: str | None = Field(default=None, description="The name of the state to create")
    message: str | None = Field(default=None, description="The message of the state to create")
    data: Any | None = Field(default=None, description="The data of the state to create")
    state_details: StateDetails = Field(
        default_factory=StateDetails, description="The details of the state to create"
    )


class StateAcceptDetails(PrefectBaseModel):
    """Details associated with an ACCEPT state transition."""

    type: Literal["accept_details"] = Field(
        default="accept_details",
        description=(
            "The type of state transition detail. Used to ensure pydantic does not coerce into "
            "a different type."
        ),
    )


class StateRejectDetails(PrefectBaseModel):
    """Details associated with a REJECT state transition."""

    type: Literal["reject_details"] = Field(
        default="reject_details",
        description=(
            "The type of state transition detail. Used to ensure pydantic does not coerce into "
            "a different type."
        ),
    )
    reason: str | None = Field(
        default=None, description="The reason why the state transition was rejected."
    )


class StateWaitDetails(PrefectBaseModel):
    """Details associated with a WAIT state transition."""

    type: Literal["wait_details"] = Field(
        default="wait_details",
        description=(
            "The type of state transition detail. Used to ensure pydantic does not coerce into "
            "a different type."
        ),
    )
    delay_seconds: int = Field(
        description=(
            "The length of time in seconds the client should wait before transitioning states."
        )
    )
    reason: str | None = Field(
        default=None, description="The reason why the state transition should wait."
    )


class StateAbortDetails(PrefectBaseModel):
    """Details associated with an ABORT state transition."""

    type: Literal["abort_details"] = Field(
        default="abort_details",
        description=(
            "The type of state transition detail. Used to ensure pydantic does not coerce into "
            "a different type."
        ),
    )
    reason: str | None = Field(
        default=None, description="The reason why the state transition was aborted."
    )


OrchestrationDetails = (
    StateAcceptDetails | StateWaitDetails | StateRejectDetails | StateAbortDetails
)


class OrchestrationResult(PrefectBaseModel):
    """A container for the output of state orchestration."""

    state: State | None
    status: SetStateStatus
    details: OrchestrationDetails
