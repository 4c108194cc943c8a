"""Between three views of a state: database rows, wire schemas and orchestration dataclasses.

State rows keep ``state_details`` as JSON in its wire form (ISO datetimes, string ids);
the orchestration rules see typed dataclasses; responses are the wire ``State``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ..orchestration import (
    FlowRunPolicy,
    FlowRunSnapshot,
    State,
    StateDetails,
    StateType,
)
from ..schemas.core import FlowRunPolicy as WireFlowRunPolicy
from ..schemas.states import StateCreate
from ..schemas.states import StateDetails as WireStateDetails

_DETAIL_FIELDS = frozenset(field.name for field in dataclasses.fields(StateDetails))


def details_from_json(raw: Mapping[str, Any] | None) -> StateDetails:
    wire = WireStateDetails.model_validate(raw or {})
    values = {k: v for k, v in wire.model_dump().items() if k in _DETAIL_FIELDS}
    return StateDetails(**values)


def details_to_json(details: StateDetails) -> dict[str, Any]:
    # Read straight from the dataclass's attributes: ``dataclasses.asdict`` deep-copies
    # every field first, which made this 8 times slower (70 against 9 us, once a state).
    wire = WireStateDetails.model_validate(details, from_attributes=True)
    result: dict[str, Any] = wire.model_dump(mode="json")
    return result


def proposed_state(state: StateCreate) -> State:
    """The orchestration view of a state a client proposes (no id, no timestamp yet)."""
    return State(
        type=StateType(state.type.value),
        name=state.name or "",
        message=state.message,
        data=state.data,
        details=details_from_json(state.state_details.model_dump()),
    )


def state_from_row(row: Mapping[str, Any]) -> State:
    return State(
        id=row["id"],
        type=StateType(row["type"]),
        name=row["name"],
        timestamp=row["timestamp"],
        message=row["message"],
        data=row["data"],
        details=details_from_json(row["state_details"]),
    )


def state_row(
    state: State, *, run_column: str, run_id: uuid.UUID, now: dt.datetime
) -> dict[str, Any]:
    """Column values for a state row (``run_column``: ``flow_run_id`` or ``task_run_id``)."""
    assert state.timestamp is not None, "states are stamped before they are written"
    return {
        "id": state.id or uuid.uuid4(),
        "created": now,
        "updated": now,
        run_column: run_id,
        "type": state.type.value,
        "name": state.name,
        "timestamp": state.timestamp,
        "message": state.message,
        "state_details": details_to_json(state.details),
        "data": state.data,
    }


def wire_state(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A state row as the wire ``State`` (a plain dict for the response model)."""
    if row is None:
        return None
    return {
        "id": row["id"],
        "type": row["type"],
        "name": row["name"],
        "timestamp": row["timestamp"],
        "message": row["message"],
        "data": row["data"],
        "state_details": row["state_details"],
    }


def flow_policy_from_json(raw: Mapping[str, Any] | None) -> FlowRunPolicy:
    wire = WireFlowRunPolicy.model_validate(raw or {})
    retries = wire.retries if wire.retries is not None else (wire.max_retries or None)
    delay = wire.retry_delay if wire.retry_delay is not None else wire.retry_delay_seconds
    return FlowRunPolicy(
        retries=retries,
        retry_delay=float(delay) if delay is not None else None,
        pause_keys=frozenset(wire.pause_keys or ()),
        resuming=bool(wire.resuming),
        retry_type=wire.retry_type,
    )


def flow_policy_to_json(
    policy: FlowRunPolicy, original: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``policy`` written back over the stored JSON (keeping the deprecated fields)."""
    merged = dict(original or {})
    merged.update(
        retries=policy.retries,
        retry_delay=policy.retry_delay,
        pause_keys=sorted(policy.pause_keys),
        resuming=policy.resuming,
        retry_type=policy.retry_type,
    )
    result: dict[str, Any] = WireFlowRunPolicy.model_validate(merged).model_dump(mode="json")
    return result


def flow_run_snapshot(row: Mapping[str, Any]) -> FlowRunSnapshot:
    return FlowRunSnapshot(
        id=row["id"],
        run_count=row["run_count"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        total_run_time=dt.timedelta(seconds=row["total_run_time"] or 0.0),
        expected_start_time=row["expected_start_time"],
        next_scheduled_start_time=row["next_scheduled_start_time"],
        state_type=StateType(row["state_type"]) if row["state_type"] else None,
        state_name=row["state_name"],
        state_timestamp=row["state_timestamp"],
        deployment_id=row["deployment_id"],
        parent_task_run_id=row["parent_task_run_id"],
        infrastructure_pid=row["infrastructure_pid"],
        empirical_policy=flow_policy_from_json(row["empirical_policy"]),
    )


def run_columns(
    updates: Mapping[str, object], original_policy: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A decision's run updates as column values."""
    columns: dict[str, Any] = {}
    for name, value in updates.items():
        if name == "id":
            continue
        if isinstance(value, dt.timedelta):
            columns[name] = value.total_seconds()
        elif isinstance(value, StateType):
            columns[name] = value.value
        elif isinstance(value, FlowRunPolicy):
            columns[name] = flow_policy_to_json(value, original_policy)
        else:
            columns[name] = value
    return columns


def shown_run(
    run: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    now: dt.datetime,
    *,
    still_late: Callable[[str | None], bool],
) -> dict[str, Any]:
    """A run row as the API shows it: its current state and the computed estimates."""
    shown = dict(run)
    shown["state"] = wire_state(state)
    run_time, lateness = run_estimates(run, now, still_late=still_late)
    shown["estimated_run_time"] = run_time
    shown["estimated_start_time_delta"] = lateness
    return shown


ESTIMATE_INPUTS = (
    "state_type",
    "state_timestamp",
    "total_run_time",
    "expected_start_time",
    "start_time",
)
"""The run columns :func:`run_estimates` reads."""


def run_estimates(
    run: Mapping[Any, Any], now: dt.datetime, *, still_late: Callable[[str | None], bool]
) -> tuple[float, float]:
    """A run's ``estimated_run_time`` and ``estimated_start_time_delta`` at ``now``.

    The run time adds the current RUNNING stretch to ``total_run_time``; the delta is how
    late the run started, or, if it has not started and ``still_late(state_type)``, how late
    it is now.
    """
    running_for = 0.0
    if run["state_type"] == "RUNNING" and run["state_timestamp"] is not None:
        running_for = max(0.0, (now - run["state_timestamp"]).total_seconds())
    run_time = (run["total_run_time"] or 0.0) + running_for
    lateness = 0.0
    expected = run["expected_start_time"]
    if expected is not None:
        started = run["start_time"]
        if started is not None:
            lateness = max(0.0, (started - expected).total_seconds())
        elif still_late(run["state_type"]):
            lateness = max(0.0, (now - expected).total_seconds())
    return run_time, lateness
