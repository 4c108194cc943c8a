"""States as the orchestration rules see them: plain frozen dataclasses, no pydantic.

A separate layer maps the wire schemas (``schemas.states``) to and from these. The rules
only read the fields defined here; anything else a state carries on the wire travels in
``data`` (the result record) or stays in the mapping layer.

Proposed states arrive without a timestamp (the server mints it): ``timestamp=None`` means
"stamp me with ``now``", which the ``decide_*`` functions do before any rule runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID


class StateType(enum.StrEnum):
    """The nine state types of Prefect 3 (their wire values are the names)."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"


#: The final ("terminal") state types.
TERMINAL_TYPES: frozenset[StateType] = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED}
)

#: Every state type; with ``None`` ("the run has no state yet") for FROM sets.
ALL_TYPES: frozenset[StateType] = frozenset(StateType)
ALL_OR_NONE: frozenset[StateType | None] = frozenset({*StateType, None})

_DEFAULT_NAMES: dict[StateType, str] = {t: t.value.capitalize() for t in StateType}


def default_name(state_type: StateType) -> str:
    """The name Prefect gives a state of ``state_type`` by default (``"Running"``, ...)."""
    return _DEFAULT_NAMES[state_type]


@dataclass(frozen=True, slots=True, kw_only=True)
class StateDetails:
    """The ``state_details`` fields (all optional, as on the wire)."""

    flow_run_id: UUID | None = None
    task_run_id: UUID | None = None
    child_flow_run_id: UUID | None = None
    scheduled_time: datetime | None = None
    cache_key: str | None = None
    cache_expiration: datetime | None = None
    deferred: bool | None = None
    untrackable_result: bool = False
    pause_timeout: datetime | None = None
    pause_reschedule: bool = False
    pause_key: str | None = None
    run_input_keyset: dict[str, str] | None = None
    refresh_cache: bool | None = None
    retriable: bool | None = None
    transition_id: UUID | None = None
    task_parameters_id: UUID | None = None
    traceparent: str | None = None
    deployment_concurrency_lease_id: UUID | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """A run state: type, name, timestamp, message, details and opaque result ``data``.

    ``data`` is the JSON the client sent (a result record's metadata, or None);
    ``id`` is minted by the writer, not by the rules.
    """

    type: StateType
    name: str = ""
    timestamp: datetime | None = None
    message: str | None = None
    details: StateDetails = field(default_factory=StateDetails)
    data: Any = None
    id: UUID | None = None

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", default_name(self.type))
        if self.timestamp is not None and self.timestamp.utcoffset() is None:
            raise ValueError("State.timestamp must be timezone-aware")

    @property
    def is_final(self) -> bool:
        return self.type in TERMINAL_TYPES

    @property
    def has_persisted_result(self) -> bool:
        """True when ``data`` refers to a persisted result (not None, not "unpersisted")."""
        if self.data is None:
            return False
        return not (isinstance(self.data, dict) and self.data.get("type") == "unpersisted")

    def with_details(self, **changes: Any) -> State:
        """A copy with some ``state_details`` fields replaced."""
        return replace(self, details=replace(self.details, **changes))


#: The state a client proposes; the same class (no id, usually no timestamp).
ProposedState = State


def new_state(
    state_type: StateType,
    name: str = "",
    *,
    timestamp: datetime | None = None,
    message: str | None = None,
    data: Any = None,
    **details: Any,
) -> State:
    """Build a state; keyword arguments beyond the named ones are ``state_details`` fields."""
    return State(
        type=state_type,
        name=name,
        timestamp=timestamp,
        message=message,
        data=data,
        details=StateDetails(**details),
    )
