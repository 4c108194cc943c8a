"""A flow run's graph of task runs and subflow runs (``/graph`` and ``/graph-v2``).

Edges come from the task runs' ``task_inputs``: an input of type ``task_run`` (or
``flow_run``) names an upstream run; the key ``__parents__`` names encapsulating runs
(a task called inside another task).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from ..database.tables import flow_run, flow_run_state, task_run, task_run_state
from ..errors import InvalidRequestError, ObjectNotFoundError
from .run_states import wire_state

Row = dict[str, Any]

#: Graphs larger than this are refused (422) rather than built.
MAX_NODES = 10_000


def _run(connection: Connection, run_id: uuid.UUID) -> Row:
    row = connection.execute(select(flow_run).where(flow_run.c.id == run_id)).mappings().first()
    if row is None:
        raise ObjectNotFoundError("Flow run not found")
    return dict(row)


def _upstream_ids(task_inputs: Mapping[str, Any] | None, *, parents: bool) -> list[uuid.UUID]:
    """Run ids named by ``task_inputs``: the ``__parents__`` key, or all the others."""
    found: list[uuid.UUID] = []
    for key, inputs in (task_inputs or {}).items():
        if (key == "__parents__") != parents:
            continue
        for item in inputs or ():
            if isinstance(item, dict) and item.get("input_type") in ("task_run", "flow_run"):
                try:
                    run_id = uuid.UUID(str(item["id"]))
                except (KeyError, ValueError):
                    continue
                if run_id not in found:
                    found.append(run_id)
    return found


def _current_states(
    connection: Connection, state_ids: Iterable[uuid.UUID | None]
) -> dict[Any, Row]:
    ids = [state_id for state_id in state_ids if state_id is not None]
    if not ids:
        return {}
    rows = connection.execute(select(task_run_state).where(task_run_state.c.id.in_(ids)))
    return {row.id: dict(row._mapping) for row in rows}


def dependency_graph(connection: Connection, run_id: uuid.UUID) -> list[Row]:
    """Version 1: every task run of the flow run with its upstream task runs."""
    _run(connection, run_id)
    tasks = [
        dict(row)
        for row in connection.execute(
            select(task_run)
            .where(task_run.c.flow_run_id == run_id)
            .order_by(task_run.c.expected_start_time, task_run.c.id)
        ).mappings()
    ]
    states = _current_states(connection, (task["state_id"] for task in tasks))
    result = []
    for task in tasks:
        state = states.get(task["state_id"])
        details = (state or {}).get("state_details") or {}
        result.append(
            {
                "id": task["id"],
                "name": task["name"],
                "upstream_dependencies": [
                    {"input_type": "task_run", "id": upstream}
                    for upstream in _upstream_ids(task["task_inputs"], parents=False)
                ],
                "state": wire_state(state),
                "expected_start_time": task["expected_start_time"],
                "start_time": task["start_time"],
                "end_time": task["end_time"],
                "total_run_time": task["total_run_time"],
                "estimated_run_time": task["total_run_time"],
                "untrackable_result": bool(details.get("untrackable_result", False)),
            }
        )
    return result


def graph(connection: Connection, run_id: uuid.UUID, *, since: dt.datetime) -> Row:
    """Version 2: started task runs and subflow runs as nodes, with their edges."""
    run = _run(connection, run_id)
    tasks = [
        dict(row)
        for row in connection.execute(
            select(task_run)
            .where(
                task_run.c.flow_run_id == run_id,
                task_run.c.start_time.is_not(None),
                (task_run.c.end_time.is_(None)) | (task_run.c.end_time >= since),
            )
            .order_by(task_run.c.start_time, task_run.c.id)
        ).mappings()
    ]
    if len(tasks) > MAX_NODES:
        raise InvalidRequestError(f"This flow run has more than {MAX_NODES} nodes to graph.")
    subflows = {
        row.parent_task_run_id: dict(row._mapping)
        for row in connection.execute(
            select(flow_run).where(
                flow_run.c.parent_task_run_id.in_([task["id"] for task in tasks])
            )
        )
    }
    # A subflow run stands in for the task run that tracks it.
    node_of = {task["id"]: subflows.get(task["id"], {}).get("id", task["id"]) for task in tasks}
    nodes: dict[uuid.UUID, Row] = {}
    for task in tasks:
        subflow = subflows.get(task["id"])
        shown = subflow or task
        node_id = node_of[task["id"]]
        nodes[node_id] = {
            "kind": "flow-run" if subflow else "task-run",
            "id": node_id,
            "label": shown["name"],
            "state_type": shown["state_type"] or "PENDING",
            "start_time": shown["start_time"] or task["start_time"],
            "end_time": shown["end_time"],
            "parents": [
                {"id": node_of.get(upstream, upstream)}
                for upstream in _upstream_ids(task["task_inputs"], parents=False)
                if node_of.get(upstream, upstream) in node_of.values()
            ],
            "children": [],
            "encapsulating": [
                {"id": node_of.get(upstream, upstream)}
                for upstream in _upstream_ids(task["task_inputs"], parents=True)
                if node_of.get(upstream, upstream) in node_of.values()
            ],
            "artifacts": [],
        }
    for node in nodes.values():
        for parent in node["parents"]:
            nodes[parent["id"]]["children"].append({"id": node["id"]})
    states = connection.execute(
        select(
            flow_run_state.c.id,
            flow_run_state.c.timestamp,
            flow_run_state.c.type,
            flow_run_state.c.name,
        )
        .where(flow_run_state.c.flow_run_id == run_id)
        .order_by(flow_run_state.c.timestamp)
    )
    return {
        "start_time": run["start_time"],
        "end_time": run["end_time"],
        "root_node_ids": [node_id for node_id, node in nodes.items() if not node["parents"]],
        "nodes": [[node_id, node] for node_id, node in nodes.items()],
        "artifacts": [],
        "states": [
            {"id": s.id, "timestamp": s.timestamp, "type": s.type, "name": s.name} for s in states
        ],
    }
