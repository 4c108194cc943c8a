"""Flow runs: create, read, update, delete, query, and orchestrated state changes.

Every function takes an open connection and runs inside the caller's single transaction
(``Database.write``/``read``): a request's writes land whole or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select

from ..database.dialects import insert_for_dialect
from ..database.page_statements import filter_key
from ..database.tables import flow, flow_run, flow_run_state
from ..errors import ObjectNotFoundError
from ..orchestration import Status, decide_flow_transition
from ..schemas.actions import FlowRunCreate, FlowRunUpdate
from ..schemas.core import FlowRunResponse
from ..schemas.filters import FlowFilter, FlowRunFilter
from ..schemas.sorting import FlowRunSort
from ..schemas.states import StateCreate
from .run_pages import RunPages
from .run_rows import RunRows
from .run_states import (
    flow_run_snapshot,
    proposed_state,
    run_columns,
    shown_run,
    state_from_row,
    state_row,
    wire_state,
)

Row = dict[str, Any]
ApiVersion = tuple[int, int, int]


FLOW_RUNS = RunRows(flow_run, flow_run_state, missing="Flow run not found")

# Built once: statements given their values as parameters are compiled once and cached.
_FLOW_FOR_EVENT = select(flow.c.id, flow.c.name, flow.c.tags).where(
    flow.c.id == bindparam("flow_id")
)
# A transition's run, its state and the flow its event names, in one query.
_FLOW_PREFIX = "flow__"
_LOCK_WITH_FLOW = FLOW_RUNS.locked_with_state_and(
    flow,
    flow.c.id == flow_run.c.flow_id,
    *(flow.c[name].label(_FLOW_PREFIX + name) for name in ("id", "name", "tags")),
)
_BY_IDEMPOTENCY_KEY = select(flow_run).where(
    flow_run.c.flow_id == bindparam("flow_id"),
    flow_run.c.idempotency_key == bindparam("idempotency_key"),
)


@functools.cache
def _insert_run(dialect: str, idempotent: bool) -> Any:
    """``INSERT ... RETURNING *`` (skipping a clash on the idempotency key when asked)."""
    statement = insert_for_dialect(dialect)(flow_run).returning(*flow_run.c)
    if idempotent:
        statement = statement.on_conflict_do_nothing(
            index_elements=[flow_run.c.flow_id, flow_run.c.idempotency_key]
        )
    return statement


@dataclass(frozen=True)
class SetStateOutcome:
    status: Status
    state: Row | None
    details: dict[str, object]
    written: bool


def with_state(connection: Connection, run: Row, now: dt.datetime) -> Row:
    """The run as the API shows it: its current state and the computed estimates."""
    return _shown(run, FLOW_RUNS.current_state(connection, run), now)


def _flow_run_still_late(state_type: str | None) -> bool:
    return state_type in ("SCHEDULED", "PENDING", None)


def _shown(run: Row, state: Row | None, now: dt.datetime) -> Row:
    return shown_run(run, state, now, still_late=_flow_run_still_late)


# No work pools yet: their fields are always null.
_FLOW_RUN_PAGES = RunPages(
    FLOW_RUNS,
    FlowRunResponse,
    still_late=_flow_run_still_late,
    computed={"work_pool_id": None, "work_pool_name": None},
)


def _load_for_transition(
    connection: Connection, run_id: uuid.UUID
) -> tuple[Row, Row | None, Row | None]:
    """The run (locked), its current state and its flow's ``id``, ``name`` and ``tags``."""
    run, state, row = FLOW_RUNS.load_with_state_and(connection, _LOCK_WITH_FLOW, run_id)
    if row[_FLOW_PREFIX + "id"] is None:
        return run, state, None
    return run, state, {name: row[_FLOW_PREFIX + name] for name in ("id", "name", "tags")}


def _apply_state(
    connection: Connection,
    run: Row,
    current_row: Row | None,
    flow_row: Row | None,
    proposal: StateCreate,
    *,
    now: dt.datetime,
    force: bool,
    api_version: ApiVersion | None,
) -> tuple[SetStateOutcome, Row, Row | None]:
    """Decide and write a proposed state; also return the run and its state as they are now."""
    current = state_from_row(current_row) if current_row is not None else None
    decision = decide_flow_transition(
        flow_run_snapshot(run),
        current,
        proposed_state(proposal),
        now=now,
        force=force,
        api_version=api_version,
    )
    shown: Row | None = current_row
    if decision.state is not None:
        values = state_row(decision.state, run_column="flow_run_id", run_id=run["id"], now=now)
        FLOW_RUNS.insert_state(connection, values)
        columns = run_columns(decision.updates, run["empirical_policy"])
        columns.update(state_id=values["id"], updated=now)
        FLOW_RUNS.update_run(connection, run["id"], columns)
        run = {**run, **columns}
        _record_state_event(connection, run, values, current_row, flow_row, now=now)
        if run["parent_task_run_id"] is not None:
            _mirror_onto_parent_task(connection, run, values, now=now)
        shown = values
    outcome = SetStateOutcome(
        status=decision.status,
        state=wire_state(shown),
        details=decision.details,
        written=decision.written,
    )
    return outcome, run, shown


def _mirror_onto_parent_task(
    connection: Connection, run: Row, state: Row, *, now: dt.datetime
) -> None:
    """A subflow's state is also its tracking task run's, with ``child_flow_run_id`` set."""
    from .task_runs import set_task_run_state

    details = {**(state["state_details"] or {}), "child_flow_run_id": str(run["id"])}
    details.pop("flow_run_id", None)
    details["task_run_id"] = str(run["parent_task_run_id"])
    mirrored = StateCreate.model_validate(
        {
            "type": state["type"],
            "name": state["name"],
            "message": state["message"],
            "state_details": details,
        }
    )
    # A tracking task run that was deleted has nothing to mirror onto.
    with contextlib.suppress(ObjectNotFoundError):
        set_task_run_state(connection, run["parent_task_run_id"], mirrored, now=now, force=True)


def _record_state_event(
    connection: Connection,
    run: Row,
    state: Row,
    previous: Row | None,
    flow_row: Row | None,
    *,
    now: dt.datetime,
) -> None:
    """Stage the ``prefect.flow-run.<State>`` event of a transition, in the same transaction
    (``event_outbox``: stored in the events tables shortly after, in a batch)."""
    from ..events.flow_run_events import flow_run_state_event
    from .event_outbox import stage_server_event

    event = flow_run_state_event(run, state, previous, flow_row, now=now)
    stage_server_event(connection, event, now=now)


def create_flow_run(
    connection: Connection,
    data: FlowRunCreate,
    *,
    now: dt.datetime,
    api_version: ApiVersion | None = None,
) -> tuple[Row, bool]:
    """Create a flow run (in ``data.state``, Pending by default); True when created.

    With an ``idempotency_key`` already used for the flow, the existing run is returned.
    """
    flow_row = connection.execute(_FLOW_FOR_EVENT, {"flow_id": data.flow_id}).mappings().first()
    if flow_row is None:
        raise ObjectNotFoundError(f"Flow {data.flow_id} not found")
    run_id = uuid.uuid4()
    labels = {**(data.labels or {}), "prefect.flow.id": str(data.flow_id)}
    values = {
        "id": run_id,
        "created": now,
        "updated": now,
        "flow_id": data.flow_id,
        "name": data.name,
        "flow_version": data.flow_version,
        "parameters": data.parameters,
        "context": data.context,
        "parent_task_run_id": data.parent_task_run_id,
        "infrastructure_document_id": data.infrastructure_document_id,
        "empirical_policy": flow_policy_to_json_default(data),
        "tags": data.tags,
        "labels": labels,
        "idempotency_key": data.idempotency_key,
        "deployment_id": data.deployment_id,
        "work_queue_name": data.work_queue_name,
        "job_variables": data.job_variables,
    }
    idempotent = data.idempotency_key is not None
    statement = _insert_run(connection.dialect.name, idempotent)
    inserted = connection.execute(statement, values).mappings().first()
    if inserted is None:
        existing = connection.execute(
            _BY_IDEMPOTENCY_KEY, {"flow_id": data.flow_id, "idempotency_key": data.idempotency_key}
        ).mappings()
        return with_state(connection, dict(existing.one()), now), False
    proposal = data.state or StateCreate(type="PENDING")
    _, run, state = _apply_state(
        connection,
        dict(inserted),
        None,
        dict(flow_row),
        proposal,
        now=now,
        force=True,
        api_version=api_version,
    )
    return _shown(run, state, now), True


def flow_policy_to_json_default(data: FlowRunCreate) -> dict[str, Any]:
    raw: dict[str, Any] = data.empirical_policy.model_dump(mode="json")
    return raw


def read_flow_run(connection: Connection, run_id: uuid.UUID, *, now: dt.datetime) -> Row:
    run, state = FLOW_RUNS.load_with_state(connection, run_id)
    return _shown(run, state, now)


def update_flow_run(
    connection: Connection, run_id: uuid.UUID, data: FlowRunUpdate, *, now: dt.datetime
) -> None:
    changes = data.changes()
    if "empirical_policy" in changes:
        changes["empirical_policy"] = data.empirical_policy.model_dump(mode="json")
    result = connection.execute(
        flow_run.update().where(flow_run.c.id == run_id).values(**changes, updated=now)
    )
    if result.rowcount == 0:
        raise ObjectNotFoundError("Flow run not found")


def update_labels(
    connection: Connection, run_id: uuid.UUID, labels: dict[str, Any], *, now: dt.datetime
) -> None:
    """Merge ``labels`` into the run's labels."""
    run, _ = FLOW_RUNS.load_with_state(connection, run_id, for_update=True)
    merged = {**(run["labels"] or {}), **labels}
    connection.execute(
        flow_run.update().where(flow_run.c.id == run_id).values(labels=merged, updated=now)
    )


def delete_flow_run(connection: Connection, run_id: uuid.UUID) -> None:
    result = connection.execute(delete(flow_run).where(flow_run.c.id == run_id))
    if result.rowcount == 0:
        raise ObjectNotFoundError("Flow run not found")


def set_flow_run_state(
    connection: Connection,
    run_id: uuid.UUID,
    proposal: StateCreate,
    *,
    now: dt.datetime,
    force: bool = False,
    api_version: ApiVersion | None = None,
) -> SetStateOutcome:
    """Orchestrate a proposed state: the run row is locked for the decision and the write."""
    run, current, flow_row = _load_for_transition(connection, run_id)
    outcome, _, _ = _apply_state(
        connection, run, current, flow_row, proposal, now=now, force=force, api_version=api_version
    )
    return outcome


def _selection(flows: FlowFilter | None, runs: FlowRunFilter | None, dialect: str) -> Any:
    from ..database.filters.flow_runs import flow_run_filter_clause
    from ..database.filters.flows import flow_filter_clause

    clause = flow_run_filter_clause(runs, dialect)
    if flows is not None:
        matching_flows = select(flow.c.id).where(flow_filter_clause(flows, dialect))
        clause = clause & flow_run.c.flow_id.in_(matching_flows)
    return clause


def _page(
    flows: FlowFilter | None, runs: FlowRunFilter | None, sort: FlowRunSort, dialect: str
) -> tuple[Any, tuple[Any, ...]]:
    """The WHERE and ORDER BY of a page of flow runs."""
    from ..database.filters.flow_runs import flow_run_order_by

    return _selection(flows, runs, dialect), flow_run_order_by(sort)


def read_flow_runs(
    connection: Connection,
    *,
    flows: FlowFilter | None,
    runs: FlowRunFilter | None,
    sort: FlowRunSort,
    offset: int,
    limit: int,
    now: dt.datetime,
) -> list[Row]:
    where, order_by = _page(flows, runs, sort, connection.dialect.name)
    pairs = FLOW_RUNS.read_with_states(connection, where, order_by, offset=offset, limit=limit)
    return [_shown(run, state, now) for run, state in pairs]


def read_flow_run_objects(
    connection: Connection,
    *,
    flows: FlowFilter | None,
    runs: FlowRunFilter | None,
    sort: FlowRunSort,
    offset: int,
    limit: int,
    now: dt.datetime,
) -> list[str]:
    """Like :func:`read_flow_runs`, as the JSON objects of the API's flow runs."""
    key = (filter_key(flows), filter_key(runs), sort)
    return _FLOW_RUN_PAGES.read(
        connection,
        key,
        lambda: _page(flows, runs, sort, connection.dialect.name),
        offset=offset,
        limit=limit,
        now=now,
    )


def count_flow_runs(
    connection: Connection, *, flows: FlowFilter | None, runs: FlowRunFilter | None
) -> int:
    statement = (
        select(func.count())
        .select_from(flow_run)
        .where(_selection(flows, runs, connection.dialect.name))
    )
    return int(connection.execute(statement).scalar_one())


def read_flow_run_states(connection: Connection, run_id: uuid.UUID) -> list[Row]:
    rows = connection.execute(
        select(flow_run_state)
        .where(flow_run_state.c.flow_run_id == run_id)
        .order_by(flow_run_state.c.timestamp, flow_run_state.c.id)
    ).mappings()
    return [state for row in rows if (state := wire_state(dict(row))) is not None]


def read_flow_run_state(connection: Connection, state_id: uuid.UUID) -> Row:
    row = (
        connection.execute(select(flow_run_state).where(flow_run_state.c.id == state_id))
        .mappings()
        .one_or_none()
    )
    shown = wire_state(dict(row) if row is not None else None)
    if shown is None:
        raise ObjectNotFoundError("Flow run state not found")
    return shown


__all__ = [
    "SetStateOutcome",
    "count_flow_runs",
    "create_flow_run",
    "delete_flow_run",
    "read_flow_run",
    "read_flow_run_objects",
    "read_flow_run_state",
    "read_flow_run_states",
    "read_flow_runs",
    "resume_flow_run",
    "set_flow_run_state",
    "update_flow_run",
    "update_labels",
]


def resume_flow_run(
    connection: Connection,
    run_id: uuid.UUID,
    run_input: dict[str, Any] | None,
    *,
    now: dt.datetime,
    api_version: ApiVersion | None = None,
) -> SetStateOutcome:
    """Resume a paused run: Running again, or Scheduled ("Resuming") when it was suspended.

    ``run_input`` is stored under the key the pause asked for (``run_input_keyset``).
    """
    run, current, flow_row = _load_for_transition(connection, run_id)
    shown = wire_state(current)
    if current is None or current["type"] != "PAUSED":
        return SetStateOutcome(
            status=Status.ABORT,
            state=shown,
            details={"type": "abort_details", "reason": "Cannot resume a run that is not paused."},
            written=False,
        )
    details = current["state_details"] or {}
    keyset = details.get("run_input_keyset") or {}
    if run_input is not None:
        if "response" not in keyset:
            return SetStateOutcome(
                status=Status.ABORT,
                state=shown,
                details={"type": "abort_details", "reason": "Run was not expecting input."},
                written=False,
            )
        from .flow_run_inputs import create_input

        create_input(
            connection,
            run_id,
            key=keyset["response"],
            value=json.dumps(run_input),
            sender=None,
            now=now,
        )
    if details.get("pause_reschedule"):
        proposal = StateCreate(type="SCHEDULED", name="Resuming")
    else:
        proposal = StateCreate(type="RUNNING")
    outcome, _, _ = _apply_state(
        connection, run, current, flow_row, proposal, now=now, force=False, api_version=api_version
    )
    return outcome
