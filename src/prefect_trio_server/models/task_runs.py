"""Task runs: create (upsert on the natural key), read, update, delete, query, and
orchestrated state changes.

Every function takes an open connection and runs inside the caller's single transaction
(``Database.write``/``read``): a request's writes land whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, false, func, select

from ..database.dialects import insert_for
from ..database.page_statements import filter_key
from ..database.tables import flow, flow_run, flow_run_state, task_run, task_run_state
from ..errors import ObjectNotFoundError
from ..orchestration import (
    TERMINAL_TYPES,
    FlowRunFacts,
    StateType,
    TaskRunPolicy,
    TaskRunSnapshot,
    decide_task_transition,
)
from ..schemas.actions import TaskRunCreate, TaskRunUpdate
from ..schemas.core import TaskRun
from ..schemas.core import TaskRunPolicy as WireTaskRunPolicy
from ..schemas.filters import FlowFilter, FlowRunFilter, TaskRunFilter
from ..schemas.sorting import TaskRunSort
from ..schemas.states import StateCreate
from .flow_runs import SetStateOutcome
from .run_pages import RunPages
from .run_rows import RunRows
from .run_states import (
    details_from_json,
    proposed_state,
    run_columns,
    shown_run,
    state_from_row,
    state_row,
    wire_state,
)

Row = dict[str, Any]

TASK_RUNS = RunRows(task_run, task_run_state, missing="Task run not found")
ApiVersion = tuple[int, int, int]

_TASK_RUN_COLUMNS = frozenset(task_run.c.keys())


# -- conversions ----------------------------------------------------------------------------


def task_policy_from_json(raw: Mapping[str, Any] | None) -> TaskRunPolicy:
    """A stored ``empirical_policy`` for the rules (deprecated fields folded in, as Prefect)."""
    wire = WireTaskRunPolicy.model_validate(raw or {})
    retries = wire.retries if wire.retries is not None else (wire.max_retries or None)
    delay: float | tuple[float, ...] | None
    if isinstance(wire.retry_delay, list):
        delay = tuple(float(value) for value in wire.retry_delay)
    elif wire.retry_delay is not None:
        delay = float(wire.retry_delay)
    else:
        delay = float(wire.retry_delay_seconds) if wire.retry_delay_seconds else None
    return TaskRunPolicy(
        retries=retries, retry_delay=delay, retry_jitter_factor=wire.retry_jitter_factor
    )


def task_run_snapshot(row: Mapping[str, Any], facts: FlowRunFacts | None) -> TaskRunSnapshot:
    return TaskRunSnapshot(
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
        flow_run_id=row["flow_run_id"],
        flow_run_run_count=row["flow_run_run_count"],
        empirical_policy=task_policy_from_json(row["empirical_policy"]),
        flow_run=facts,
    )


def _flow_run_facts(connection: Connection, flow_run_id: uuid.UUID | None) -> FlowRunFacts | None:
    """What the task rules need to know about the enclosing flow run (None: no flow run)."""
    if flow_run_id is None:
        return None
    statement = (
        select(
            flow_run.c.state_type,
            flow_run.c.run_count,
            flow_run_state.c.state_details,
        )
        .select_from(flow_run.outerjoin(flow_run_state, flow_run_state.c.id == flow_run.c.state_id))
        .where(flow_run.c.id == flow_run_id)
    )
    row = connection.execute(statement).mappings().one_or_none()
    if row is None:
        return None
    details = details_from_json(row["state_details"]) if row["state_details"] else None
    return FlowRunFacts(
        state_type=StateType(row["state_type"]) if row["state_type"] else None,
        run_count=row["run_count"],
        pause_timeout=details.pause_timeout if details is not None else None,
        pause_reschedule=details.pause_reschedule if details is not None else False,
    )


# -- reading --------------------------------------------------------------------------------


def with_state(connection: Connection, run: Row, now: dt.datetime) -> Row:
    """The run as the API shows it: its current state and the computed estimates."""
    return _shown(run, TASK_RUNS.current_state(connection, run), now)


_TERMINAL = frozenset(state_type.value for state_type in TERMINAL_TYPES)


def _task_run_still_late(state_type: str | None) -> bool:
    return state_type not in _TERMINAL


def _shown(run: Row, state: Row | None, now: dt.datetime) -> Row:
    return shown_run(run, state, now, still_late=_task_run_still_late)


_TASK_RUN_PAGES = RunPages(TASK_RUNS, TaskRun, still_late=_task_run_still_late)


def read_task_run(connection: Connection, run_id: uuid.UUID, *, now: dt.datetime) -> Row:
    run, state = TASK_RUNS.load_with_state(connection, run_id)
    return _shown(run, state, now)


# -- state changes --------------------------------------------------------------------------


def _apply_state(
    connection: Connection,
    run: Row,
    current_row: Row | None,
    proposal: StateCreate,
    *,
    now: dt.datetime,
    force: bool,
    api_version: ApiVersion | None,
) -> tuple[SetStateOutcome, Row, Row | None]:
    """Decide and write a proposed state; also return the run and its state as they are now."""
    current = state_from_row(current_row) if current_row is not None else None
    decision = decide_task_transition(
        task_run_snapshot(run, _flow_run_facts(connection, run["flow_run_id"])),
        current,
        proposed_state(proposal),
        now=now,
        force=force,
        api_version=api_version,
    )
    shown: Row | None = current_row
    if decision.state is not None:
        values = state_row(decision.state, run_column="task_run_id", run_id=run["id"], now=now)
        TASK_RUNS.insert_state(connection, values)
        updates = {k: v for k, v in decision.updates.items() if k in _TASK_RUN_COLUMNS}
        updates.pop("empirical_policy", None)  # the task rules never change the policy
        columns = run_columns(updates, run["empirical_policy"])
        columns.update(state_id=values["id"], updated=now)
        TASK_RUNS.update_run(connection, run["id"], columns)
        run = {**run, **columns}
        shown = values
    outcome = SetStateOutcome(
        status=decision.status,
        state=wire_state(shown),
        details=decision.details,
        written=decision.written,
    )
    return outcome, run, shown


def set_task_run_state(
    connection: Connection,
    run_id: uuid.UUID,
    proposal: StateCreate,
    *,
    now: dt.datetime,
    force: bool = False,
    api_version: ApiVersion | None = None,
) -> SetStateOutcome:
    """Orchestrate a proposed state: the run row is locked for the decision and the write."""
    run, current = TASK_RUNS.load_with_state(connection, run_id, for_update=True)
    outcome, _, _ = _apply_state(
        connection, run, current, proposal, now=now, force=force, api_version=api_version
    )
    return outcome


# -- create, update, delete -----------------------------------------------------------------


def _existing(connection: Connection, data: TaskRunCreate, run_id: uuid.UUID) -> Row | None:
    if data.flow_run_id is not None:
        statement = select(task_run).where(
            task_run.c.flow_run_id == data.flow_run_id,
            task_run.c.task_key == data.task_key,
            task_run.c.dynamic_key == data.dynamic_key,
        )
        row = connection.execute(statement).mappings().one_or_none()
        if row is not None:
            return dict(row)
    row = connection.execute(select(task_run).where(task_run.c.id == run_id)).mappings().first()
    return dict(row) if row is not None else None


def create_task_run(
    connection: Connection,
    data: TaskRunCreate,
    *,
    now: dt.datetime,
    api_version: ApiVersion | None = None,
) -> tuple[Row, bool]:
    """Create a task run (in ``data.state``, Pending by default); True when created.

    A run with the same ``(flow_run_id, task_key, dynamic_key)`` (or the same ``id``) is
    returned as it is instead.
    """
    labels: dict[str, Any] = dict(data.labels or {})
    if data.flow_run_id is not None:
        parent = connection.execute(
            select(flow_run.c.flow_id).where(flow_run.c.id == data.flow_run_id)
        ).first()
        if parent is None:
            raise ObjectNotFoundError(f"Flow run {data.flow_run_id} not found")
        labels = {
            **labels,
            "prefect.flow.id": str(parent.flow_id),
            "prefect.flow-run.id": str(data.flow_run_id),
        }
    run_id = data.id or uuid.uuid4()
    values = {
        "id": run_id,
        "created": now,
        "updated": now,
        "name": data.name,
        "flow_run_id": data.flow_run_id,
        "task_key": data.task_key,
        "dynamic_key": data.dynamic_key,
        "cache_key": data.cache_key,
        "cache_expiration": data.cache_expiration,
        "task_version": data.task_version,
        "empirical_policy": data.empirical_policy.model_dump(mode="json"),
        "tags": data.tags,
        "labels": labels,
        "task_inputs": {
            name: [item.model_dump(mode="json") for item in inputs]
            for name, inputs in data.task_inputs.items()
        },
    }
    insert = insert_for(connection)
    statement = insert(task_run).values(**values).on_conflict_do_nothing().returning(task_run.c.id)
    if connection.execute(statement).first() is None:
        existing = _existing(connection, data, run_id)
        if existing is None:  # pragma: no cover - a conflict implies a row
            raise ObjectNotFoundError("Task run not found")
        return with_state(connection, existing, now), False
    proposal = data.state or StateCreate(type="PENDING")
    _, run, state = _apply_state(
        connection,
        TASK_RUNS.load(connection, run_id),
        None,
        proposal,
        now=now,
        force=True,
        api_version=api_version,
    )
    return _shown(run, state, now), True


def update_task_run(
    connection: Connection, run_id: uuid.UUID, data: TaskRunUpdate, *, now: dt.datetime
) -> None:
    changes = data.changes()
    result = connection.execute(
        task_run.update().where(task_run.c.id == run_id).values(**changes, updated=now)
    )
    if result.rowcount == 0:
        raise ObjectNotFoundError("Task run not found")


def delete_task_run(connection: Connection, run_id: uuid.UUID) -> None:
    result = connection.execute(delete(task_run).where(task_run.c.id == run_id))
    if result.rowcount == 0:
        raise ObjectNotFoundError("Task run not found")


# -- queries --------------------------------------------------------------------------------


def _selection(
    *,
    flows: FlowFilter | None,
    flow_runs: FlowRunFilter | None,
    task_runs: TaskRunFilter | None,
    deployments: object | None,
    dialect: str,
) -> ColumnElement[bool]:
    """Task runs matching ``task_runs`` whose flow run (and its flow) match the others.

    As in Prefect, a flow, flow-run or deployment filter selects only task runs that have a
    flow run. No deployments are stored yet, so a deployment filter matches nothing.
    """
    from ..database.filters.flow_runs import flow_run_filter_clause
    from ..database.filters.flows import flow_filter_clause
    from ..database.filters.task_runs import task_run_filter_clause

    clause = task_run_filter_clause(task_runs, dialect)
    if deployments is not None:
        return clause & false()
    if flows is not None or flow_runs is not None:
        runs = select(flow_run.c.id).where(flow_run_filter_clause(flow_runs, dialect))
        if flows is not None:
            runs = runs.where(
                flow_run.c.flow_id.in_(select(flow.c.id).where(flow_filter_clause(flows, dialect)))
            )
        clause = clause & task_run.c.flow_run_id.in_(runs)
    return clause


def read_task_runs(
    connection: Connection,
    *,
    flows: FlowFilter | None,
    flow_runs: FlowRunFilter | None,
    task_runs: TaskRunFilter | None,
    deployments: object | None = None,
    sort: TaskRunSort,
    offset: int,
    limit: int,
    now: dt.datetime,
) -> list[str]:
    """The page of task runs the filters select, as the JSON objects of the API's task runs."""
    from ..database.filters.task_runs import task_run_order_by

    def selection() -> tuple[ColumnElement[bool], Sequence[ColumnElement[Any]]]:
        where = _selection(
            flows=flows,
            flow_runs=flow_runs,
            task_runs=task_runs,
            deployments=deployments,
            dialect=connection.dialect.name,
        )
        return where, task_run_order_by(sort)

    # Only whether a deployment filter was sent matters (it matches nothing yet).
    key = (
        filter_key(flows),
        filter_key(flow_runs),
        filter_key(task_runs),
        deployments is not None,
        sort,
    )
    return _TASK_RUN_PAGES.read(connection, key, selection, offset=offset, limit=limit, now=now)


def count_task_runs(
    connection: Connection,
    *,
    flows: FlowFilter | None,
    flow_runs: FlowRunFilter | None,
    task_runs: TaskRunFilter | None,
    deployments: object | None = None,
) -> int:
    where = _selection(
        flows=flows,
        flow_runs=flow_runs,
        task_runs=task_runs,
        deployments=deployments,
        dialect=connection.dialect.name,
    )
    statement = select(func.count()).select_from(task_run).where(where)
    return int(connection.execute(statement).scalar_one())


HISTORY_MAX_INTERVALS = 500


def task_run_history(
    connection: Connection,
    *,
    flows: FlowFilter | None,
    flow_runs: FlowRunFilter | None,
    task_runs: TaskRunFilter | None,
    deployments: object | None = None,
    start: dt.datetime,
    end: dt.datetime,
    interval: dt.timedelta,
    now: dt.datetime,
) -> list[Row]:
    """Counts of the selected runs by current state, per interval of ``expected_start_time``.

    As Prefect's: intervals start at ``start`` every ``interval`` while before ``end`` (at
    most 500), each ``[interval_start, interval_start + interval)``; a run counts in the one
    holding its expected start time, under its current state type and name.
    """
    starts: list[dt.datetime] = []
    moment = start
    while moment < end and len(starts) < HISTORY_MAX_INTERVALS:
        starts.append(moment)
        moment = moment + interval
    if not starts:
        return []
    last_end = starts[-1] + interval
    where = _selection(
        flows=flows,
        flow_runs=flow_runs,
        task_runs=task_runs,
        deployments=deployments,
        dialect=connection.dialect.name,
    )
    statement = select(task_run).where(
        where,
        task_run.c.expected_start_time >= start,
        task_run.c.expected_start_time < last_end,
    )
    buckets: list[dict[tuple[str, str], Row]] = [{} for _ in starts]
    for row in connection.execute(statement).mappings():
        run = dict(row)
        if run["state_type"] is None:
            continue
        expected: dt.datetime = run["expected_start_time"]
        index = min(int((expected - start) / interval), len(starts) - 1)
        while index > 0 and starts[index] > expected:
            index -= 1
        while index + 1 < len(starts) and starts[index + 1] <= expected:
            index += 1
        estimates = with_state(connection, run, now)
        key = (run["state_type"], run["state_name"])
        entry = buckets[index].setdefault(
            key,
            {
                "state_type": run["state_type"],
                "state_name": run["state_name"],
                "count_runs": 0,
                "sum_estimated_run_time": 0.0,
                "sum_estimated_lateness": 0.0,
            },
        )
        entry["count_runs"] += 1
        entry["sum_estimated_run_time"] += estimates["estimated_run_time"]
        entry["sum_estimated_lateness"] += estimates["estimated_start_time_delta"]
    return [
        {
            "interval_start": interval_start,
            "interval_end": interval_start + interval,
            "states": [bucket[key] for key in sorted(bucket)],
        }
        for interval_start, bucket in zip(starts, buckets, strict=True)
    ]


# -- states ---------------------------------------------------------------------------------


def read_task_run_states(connection: Connection, run_id: uuid.UUID) -> list[Row]:
    rows = connection.execute(
        select(task_run_state)
        .where(task_run_state.c.task_run_id == run_id)
        .order_by(task_run_state.c.timestamp, task_run_state.c.id)
    ).mappings()
    return [state for row in rows if (state := wire_state(dict(row))) is not None]


def read_task_run_state(connection: Connection, state_id: uuid.UUID) -> Row:
    row = (
        connection.execute(select(task_run_state).where(task_run_state.c.id == state_id))
        .mappings()
        .one_or_none()
    )
    shown = wire_state(dict(row) if row is not None else None)
    if shown is None:
        raise ObjectNotFoundError("Task run state not found")
    return shown


__all__ = [
    "count_task_runs",
    "create_task_run",
    "delete_task_run",
    "read_task_run",
    "read_task_run_state",
    "read_task_run_states",
    "read_task_runs",
    "set_task_run_state",
    "task_policy_from_json",
    "task_run_history",
    "task_run_snapshot",
    "update_task_run",
]
