"""The task-run recorder: task runs and their states, from ``prefect.task-run.*`` events.

Prefect clients orchestrate task runs themselves and report each state change as an event
(protocol notes 2.a.2 to 2.a.4); these events are the only source of task-run rows. For each
event named ``prefect.task-run.*`` whose resource has ``prefect.orchestration == "client"``:

* the task run's id is the UUID in ``prefect.task-run.<id>``; its flow run is the related
  resource with role ``flow-run``; every other column comes from ``payload.task_run`` (only the
  columns it carries: the others keep their stored values);
* its state is ``payload.validated_state`` with ``id`` = the event id and ``timestamp`` = the
  event's ``occurred``, ``state_details.task_run_id`` / ``flow_run_id`` filled in;
* the ``task_run`` row is inserted, or found by id or by its natural key
  ``(flow_run_id, task_key, dynamic_key)`` and updated, but only when the stored
  ``state_timestamp`` is older than the event's: late or repeated events never move a run
  backwards;
* a ``task_run_state`` row is inserted for every event (``ON CONFLICT DO NOTHING``, so a
  repeated event id, or a second state at the same timestamp, is ignored).

An event that cannot be recorded (no task key, an unknown state type, a flow run that does
not exist) is skipped with a warning; it is still stored as an event. Each event is recorded
under its own savepoint, so one bad event cannot undo the rest of its batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..database.dialects import insert_for
from ..database.tables.runs import flow_run, task_run, task_run_state
from ..schemas.base import DateTime, PrefectBaseModel
from ..schemas.events import Event
from ..schemas.states import StateDetails, StateType

__all__ = ["TASK_RUN_EVENT_PREFIX", "is_task_run_event", "record_task_run_events"]

logger = logging.getLogger("prefect_trio_server.task_run_recorder")

TASK_RUN_EVENT_PREFIX = "prefect.task-run."


class _TaskRunPayload(PrefectBaseModel):
    """``payload.task_run``: the TaskRun fields a client sends (all optional, nulls dropped)."""

    name: str | None = None
    task_key: str | None = None
    dynamic_key: str | None = None
    cache_key: str | None = None
    cache_expiration: DateTime | None = None
    task_version: str | None = None
    flow_run_run_count: int | None = None
    empirical_policy: dict[str, Any] | None = None
    task_inputs: dict[str, Any] | None = None
    tags: list[str] | None = None
    labels: dict[str, Any] | None = None
    run_count: int | None = None
    expected_start_time: DateTime | None = None
    next_scheduled_start_time: DateTime | None = None
    start_time: DateTime | None = None
    end_time: DateTime | None = None
    total_run_time: float | None = None


class _StatePayload(PrefectBaseModel):
    """``payload.validated_state``."""

    type: StateType
    name: str | None = None
    message: str | None = None
    state_details: dict[str, Any] | None = None
    data: Any | None = None


# Columns a NULL may be written to (the others have defaults and are NOT NULL).
_NOT_NULL = frozenset(
    {"name", "task_key", "dynamic_key", "flow_run_run_count", "empirical_policy",
     "task_inputs", "tags", "run_count", "total_run_time"}
)  # fmt: skip


def is_task_run_event(event: Event) -> bool:
    """Whether the recorder takes ``event`` (a client-orchestrated task-run state change)."""
    return (
        event.event.startswith(TASK_RUN_EVENT_PREFIX)
        and event.resource.get("prefect.orchestration") == "client"
    )


class _Skip(Exception):
    """The event cannot be recorded; the message says why."""


def _task_run_columns(event: Event) -> tuple[uuid.UUID, dict[str, Any], dict[str, Any]]:
    """The task run id, its ``task_run`` columns and its ``task_run_state`` columns."""
    task_run_id = event.resource.prefect_object_id("prefect.task-run")
    if task_run_id is None:
        raise _Skip(f"resource id {event.resource.id!r} names no task run")
    related_flow_run = event.related_in_role("flow-run")
    flow_run_id = (
        related_flow_run.prefect_object_id("prefect.flow-run") if related_flow_run else None
    )
    try:
        fields = _TaskRunPayload.model_validate(event.payload.get("task_run") or {})
        state = _StatePayload.model_validate(event.payload.get("validated_state"))
        details_raw = {
            **(state.state_details or {}),
            "task_run_id": str(task_run_id),
            "flow_run_id": str(flow_run_id) if flow_run_id else None,
        }
        details = StateDetails.model_validate(details_raw).model_dump(mode="json")
    except ValidationError as exc:
        raise _Skip(f"invalid task run or state in the payload: {exc.errors()[:1]}") from exc
    columns = {
        key: value
        for key, value in fields.model_dump(exclude_unset=True).items()
        if value is not None or key not in _NOT_NULL
    }
    columns.update(
        flow_run_id=flow_run_id,
        state_id=event.id,
        state_type=state.type.value,
        state_name=state.name or state.type.value.title(),
        state_timestamp=event.occurred,
    )
    state_columns = {
        "id": event.id,
        "type": state.type.value,
        "name": state.name or state.type.value.title(),
        "timestamp": event.occurred,
        "message": state.message,
        "state_details": details,
        "data": state.data,
    }
    return task_run_id, columns, state_columns


def _find_existing(
    connection: Connection, task_run_id: uuid.UUID, columns: Mapping[str, Any]
) -> uuid.UUID | None:
    condition = task_run.c.id == task_run_id
    flow_run_id = columns.get("flow_run_id")
    if flow_run_id is not None and "task_key" in columns and "dynamic_key" in columns:
        condition = or_(
            condition,
            and_(
                task_run.c.flow_run_id == flow_run_id,
                task_run.c.task_key == columns["task_key"],
                task_run.c.dynamic_key == columns["dynamic_key"],
            ),
        )
    # Prefer the row with our own id when both exist.
    found = connection.execute(
        select(task_run.c.id).where(condition).order_by((task_run.c.id == task_run_id).desc())
    ).first()
    return found[0] if found is not None else None


def _record_one(
    connection: Connection,
    event: Event,
    *,
    now: dt.datetime,
    known_flow_runs: dict[uuid.UUID, bool],
) -> None:
    task_run_id, columns, state_columns = _task_run_columns(event)
    flow_run_id = columns["flow_run_id"]
    if flow_run_id is not None:
        if flow_run_id not in known_flow_runs:
            known_flow_runs[flow_run_id] = (
                connection.execute(
                    select(flow_run.c.id).where(flow_run.c.id == flow_run_id)
                ).first()
                is not None
            )
        if not known_flow_runs[flow_run_id]:
            raise _Skip(f"flow run {flow_run_id} does not exist")

    existing = _find_existing(connection, task_run_id, columns)
    if existing is None:
        if "task_key" not in columns or "dynamic_key" not in columns:
            raise _Skip("payload.task_run has no task_key or dynamic_key")
        values = {
            "name": event.resource.name or columns["task_key"],
            **columns,
            "id": task_run_id,
            "created": now,
            "updated": now,
        }
        inserted = connection.execute(
            insert_for(connection)(task_run)
            .values(values)
            .on_conflict_do_nothing()
            .returning(task_run.c.id)
        ).first()
        if inserted is None:  # inserted by a concurrent transaction meanwhile
            existing = _find_existing(connection, task_run_id, columns)
            if existing is None:
                raise _Skip("the task run conflicts with another row")
    if existing is not None:
        task_run_id = existing
        connection.execute(
            update(task_run)
            .where(
                task_run.c.id == existing,
                or_(
                    task_run.c.state_timestamp.is_(None),
                    task_run.c.state_timestamp < event.occurred,
                ),
            )
            .values(**columns, updated=now)
        )
    state_columns["state_details"]["task_run_id"] = str(task_run_id)
    connection.execute(
        insert_for(connection)(task_run_state)
        .values(
            **state_columns,
            task_run_id=task_run_id,
            created=now,
            updated=now,
        )
        .on_conflict_do_nothing()
    )


def record_task_run_events(
    connection: Connection, batch: Iterable[Event], *, now: dt.datetime
) -> int:
    """Record the task-run events of ``batch`` in order; return how many were recorded."""
    recorded = 0
    known_flow_runs: dict[uuid.UUID, bool] = {}
    for event in batch:
        if not is_task_run_event(event):
            continue
        try:
            with connection.begin_nested():
                _record_one(connection, event, now=now, known_flow_runs=known_flow_runs)
        except _Skip as exc:
            logger.warning("task run event %s (%s) not recorded: %s", event.id, event.event, exc)
        except IntegrityError:
            logger.warning(
                "task run event %s (%s) not recorded", event.id, event.event, exc_info=True
            )
        else:
            recorded += 1
    return recorded
