"""The aggregate queries behind the UI endpoints (``/ui/flows``, ``/ui/flow_runs``,
``/ui/task_runs``).

Every function takes an open connection and runs inside the caller's single transaction
(``Database.read``). Filters on resources this server does not store yet (deployments, work
pools, work queues) match nothing when given, as in :mod:`.flows`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, false, func, select

from ..database.tables import flow, flow_run, task_run
from ..errors import InvalidRequestError
from ..schemas.filters import (
    FlowFilter,
    FlowRunFilter,
    TaskRunFilter,
    TaskRunFilterState,
    TaskRunFilterStateType,
)
from ..schemas.sorting import FlowRunSort
from ..schemas.states import TERMINAL_STATE_TYPES, StateType
from . import flow_runs as flow_run_models
from . import task_runs as task_run_models

Row = dict[str, Any]

#: The dashboard's "failed" task runs; the other terminal ones count as "completed".
FAILED_STATE_TYPES = frozenset({StateType.FAILED, StateType.CRASHED})

#: How many intervals the dashboard's task run counts are divided into.
DASHBOARD_BUCKETS = 20


def _is_subflow_parent() -> ColumnElement[bool]:
    """The task run tracks a subflow run (some flow run has it as ``parent_task_run_id``)."""
    return exists(select(flow_run.c.id).where(flow_run.c.parent_task_run_id == task_run.c.id))


# -- flows ----------------------------------------------------------------------------------


def count_deployments_by_flow(flow_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Deployments per flow: no deployments are stored yet, so 0 for every id."""
    return dict.fromkeys(flow_ids, 0)


def next_runs_by_flow(
    connection: Connection, flow_ids: Sequence[uuid.UUID], *, now: dt.datetime
) -> dict[uuid.UUID, Row | None]:
    """For each flow, its Scheduled run due soonest after ``now`` (None: it has none).

    Runs tie on the start time are broken by id, so the answer is stable.
    """
    answer: dict[uuid.UUID, Row | None] = dict.fromkeys(flow_ids, None)
    if not flow_ids:
        return answer
    rank = (
        func.row_number()
        .over(
            partition_by=flow_run.c.flow_id,
            order_by=(flow_run.c.next_scheduled_start_time.asc(), flow_run.c.id.asc()),
        )
        .label("rank")
    )
    candidates = (
        select(
            flow_run.c.id,
            flow_run.c.flow_id,
            flow_run.c.name,
            flow_run.c.state_name,
            flow_run.c.state_type,
            flow_run.c.next_scheduled_start_time,
            rank,
        )
        .where(
            flow_run.c.flow_id.in_(set(flow_ids)),
            flow_run.c.state_type == StateType.SCHEDULED.value,
            flow_run.c.next_scheduled_start_time > now,
        )
        .subquery()
    )
    statement = select(
        candidates.c.id,
        candidates.c.flow_id,
        candidates.c.name,
        candidates.c.state_name,
        candidates.c.state_type,
        candidates.c.next_scheduled_start_time,
    ).where(candidates.c.rank == 1)
    for row in connection.execute(statement).mappings():
        answer[row["flow_id"]] = dict(row)
    return answer


# -- flow runs ------------------------------------------------------------------------------


def count_task_runs_by_flow_run(
    connection: Connection, flow_run_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Task runs per flow run id (0 for unknown ids), not counting subflow parent task runs."""
    counts: dict[uuid.UUID, int] = dict.fromkeys(flow_run_ids, 0)
    if not flow_run_ids:
        return counts
    statement = (
        select(task_run.c.flow_run_id, func.count(task_run.c.id))
        .where(task_run.c.flow_run_id.in_(set(flow_run_ids)), ~_is_subflow_parent())
        .group_by(task_run.c.flow_run_id)
    )
    for flow_run_id, count in connection.execute(statement):
        counts[flow_run_id] = int(count)
    return counts


def _flow_run_history_clause(
    *,
    flows: FlowFilter | None,
    flow_runs: FlowRunFilter | None,
    task_runs: TaskRunFilter | None,
    unstored: bool,
    dialect: str,
) -> ColumnElement[bool]:
    from ..database.filters.flow_runs import flow_run_filter_clause
    from ..database.filters.flows import flow_filter_clause
    from ..database.filters.task_runs import task_run_filter_clause

    clause = flow_run_filter_clause(flow_runs, dialect)
    if flows is not None:
        matching_flows = select(flow.c.id).where(flow_filter_clause(flows, dialect))
        clause = clause & flow_run.c.flow_id.in_(matching_flows)
    if task_runs is not None:
        clause = clause & exists(
            select(task_run.c.id).where(
                task_run.c.flow_run_id == flow_run.c.id,
                task_run_filter_clause(task_runs, dialect),
            )
        )
    if unstored:
        clause = clause & false()
    return clause


def read_flow_run_history(
    connection: Connection,
    *,
    flows: FlowFilter | None,
    flow_runs: FlowRunFilter | None,
    task_runs: TaskRunFilter | None,
    deployments: object | None = None,
    work_pools: object | None = None,
    sort: FlowRunSort,
    offset: int,
    limit: int,
    now: dt.datetime,
) -> list[Row]:
    """The selected flow runs, simplified: id, state type, timestamp, duration, lateness.

    ``timestamp`` is the start time, or the expected start time for a run not started;
    ``duration`` and ``lateness`` are the run's estimated run time and start time delta.
    A run without a state (nothing to show) is left out.
    """
    from ..database.filters.flow_runs import flow_run_order_by

    where = _flow_run_history_clause(
        flows=flows,
        flow_runs=flow_runs,
        task_runs=task_runs,
        unstored=deployments is not None or work_pools is not None,
        dialect=connection.dialect.name,
    )
    statement = (
        select(
            flow_run.c.id,
            flow_run.c.state_type,
            flow_run.c.state_timestamp,
            flow_run.c.start_time,
            flow_run.c.expected_start_time,
            flow_run.c.total_run_time,
        )
        .where(where)
        .order_by(*flow_run_order_by(sort))
        .offset(offset)
        .limit(limit)
    )
    history: list[Row] = []
    for row in connection.execute(statement).mappings():
        timestamp = row["start_time"] or row["expected_start_time"]
        if row["state_type"] is None or timestamp is None:
            continue
        # Only the estimates are wanted: without a state id no state is looked up.
        estimated = flow_run_models.with_state(connection, {**row, "state_id": None}, now)
        history.append(
            {
                "id": row["id"],
                "state_type": row["state_type"],
                "timestamp": timestamp,
                "duration": estimated["estimated_run_time"],
                "lateness": estimated["estimated_start_time_delta"],
            }
        )
    return history


# -- task runs ------------------------------------------------------------------------------


def read_task_run_with_flow_run_name(
    connection: Connection, run_id: uuid.UUID, *, now: dt.datetime
) -> Row | None:
    """The task run as ``/task_runs/{id}`` shows it, plus its flow run's name (None: no run)."""
    statement = (
        select(task_run, flow_run.c.name.label("flow_run_name"))
        .select_from(task_run.outerjoin(flow_run, flow_run.c.id == task_run.c.flow_run_id))
        .where(task_run.c.id == run_id)
    )
    row = connection.execute(statement).mappings().one_or_none()
    if row is None:
        return None
    run = dict(row)
    flow_run_name = run.pop("flow_run_name")
    shown = task_run_models.with_state(connection, run, now)
    shown["flow_run_name"] = flow_run_name
    return shown


def count_task_runs_by_state(
    connection: Connection,
    *,
    flows: FlowFilter | None,
    flow_runs: FlowRunFilter | None,
    task_runs: TaskRunFilter | None,
    deployments: object | None = None,
) -> dict[str, int]:
    """The selected task runs counted by current state type (every type, 0 when none)."""
    where = task_run_models._selection(
        flows=flows,
        flow_runs=flow_runs,
        task_runs=task_runs,
        deployments=deployments,
        dialect=connection.dialect.name,
    )
    statement = (
        select(task_run.c.state_type, func.count())
        .select_from(task_run)
        .where(where, task_run.c.state_type.is_not(None))
        .group_by(task_run.c.state_type)
    )
    counts = {state_type.value: 0 for state_type in StateType}
    for state_type, count in connection.execute(statement):
        if state_type in counts:
            counts[state_type] = int(count)
    return counts


def _end_of_minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=59, microsecond=999999)


def dashboard_task_run_counts(
    connection: Connection,
    *,
    task_runs: TaskRunFilter,
    flows: FlowFilter | None,
    flow_runs: FlowRunFilter | None,
    deployments: object | None = None,
    work_pools: object | None = None,
    work_queues: object | None = None,
    now: dt.datetime,
) -> list[dict[str, int]]:
    """Terminal task runs per time bucket, as Prefect's dashboard counts them.

    ``task_runs.start_time.after_`` must be set (else 422). The window runs from the
    start of ``after_``'s minute to the end of ``before_``'s (or now's) minute, split into 20
    equal buckets by start time. Only terminal runs count (the filter's ``state`` is replaced):
    ``failed`` are Failed and Crashed, ``completed`` the other terminal ones (Completed and
    Cancelled).
    """
    start_filter = task_runs.start_time
    if start_filter is None or start_filter.after_ is None:
        raise InvalidRequestError("task_runs.start_time.after_ is required")
    start = start_filter.after_.replace(second=0, microsecond=0)
    end = _end_of_minute(start_filter.before_ if start_filter.before_ is not None else now)
    delta = (end - start) / DASHBOARD_BUCKETS
    buckets = [{"completed": 0, "failed": 0} for _ in range(DASHBOARD_BUCKETS)]
    if delta <= dt.timedelta(0):
        return buckets
    terminal = TaskRunFilterState(type=TaskRunFilterStateType(any_=sorted(TERMINAL_STATE_TYPES)))
    unstored = next(
        (value for value in (deployments, work_pools, work_queues) if value is not None), None
    )
    where = task_run_models._selection(
        flows=flows,
        flow_runs=flow_runs,
        task_runs=task_runs.model_copy(update={"state": terminal}),
        deployments=unstored,
        dialect=connection.dialect.name,
    )
    statement = (
        select(task_run.c.start_time, task_run.c.state_type, func.count())
        .where(where, task_run.c.start_time.is_not(None))
        .group_by(task_run.c.start_time, task_run.c.state_type)
    )
    failed = {state.value for state in FAILED_STATE_TYPES}
    for started, state_type, count in connection.execute(statement):
        index = min(max((started - start) // delta, 0), DASHBOARD_BUCKETS - 1)
        key = "failed" if state_type in failed else "completed"
        buckets[index][key] += int(count)
    return buckets


__all__ = [
    "DASHBOARD_BUCKETS",
    "FAILED_STATE_TYPES",
    "count_deployments_by_flow",
    "count_task_runs_by_flow_run",
    "count_task_runs_by_state",
    "dashboard_task_run_counts",
    "next_runs_by_flow",
    "read_flow_run_history",
    "read_task_run_with_flow_run_name",
]
