"""Flow run graphs: ``/flow_runs/{id}/graph`` and ``/flow_runs/{id}/graph-v2``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel

from ..models import flow_run_graph as graphs
from ..schemas.base import DateTime
from ..schemas.core import TaskRunResult
from ..schemas.states import State, StateType
from .dependencies import DatabaseDep
from .routing import DeferredRouter

router = DeferredRouter(prefix="/flow_runs", tags=["Flow Runs"])

THE_BEGINNING = dt.datetime.min.replace(tzinfo=dt.UTC)
FlowRunId = Annotated[uuid.UUID, Path(description="The flow run id", alias="id")]


class DependencyResult(BaseModel):
    id: uuid.UUID
    name: str
    upstream_dependencies: list[TaskRunResult]
    state: State | None
    expected_start_time: DateTime | None
    start_time: DateTime | None
    end_time: DateTime | None
    total_run_time: float | None
    estimated_run_time: float | None
    untrackable_result: bool


class Edge(BaseModel):
    id: uuid.UUID


class Node(BaseModel):
    kind: Literal["flow-run", "task-run"]
    id: uuid.UUID
    label: str
    state_type: StateType
    start_time: DateTime
    end_time: DateTime | None
    parents: list[Edge]
    children: list[Edge]
    encapsulating: list[Edge]
    artifacts: list[dict[str, Any]]


class GraphState(BaseModel):
    id: uuid.UUID
    timestamp: DateTime
    type: StateType
    name: str


class Graph(BaseModel):
    start_time: DateTime | None
    end_time: DateTime | None
    root_node_ids: list[uuid.UUID]
    nodes: list[tuple[uuid.UUID, Node]]
    artifacts: list[dict[str, Any]]
    states: list[GraphState]


@router.get("/{id}/graph")
async def read_flow_run_graph_v1(
    run_id: FlowRunId, database: DatabaseDep
) -> list[DependencyResult]:
    """Get a task run dependency map for a given flow run."""
    rows = await database.read(lambda connection: graphs.dependency_graph(connection, run_id))
    return [DependencyResult.model_validate(row) for row in rows]


@router.get("/{id}/graph-v2")
async def read_flow_run_graph_v2(
    run_id: FlowRunId,
    database: DatabaseDep,
    since: Annotated[
        DateTime, Query(description="Only include runs that start or end after this time.")
    ] = THE_BEGINNING,
) -> Graph:
    """Get a graph of the tasks and subflow runs for the given flow run."""
    row = await database.read(lambda connection: graphs.graph(connection, run_id, since=since))
    return Graph.model_validate(row)
