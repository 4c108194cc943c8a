"""Flows: upsert by name, read, update, delete, and queries over the other resources."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, false, func, select

from ..database.dialects import insert_for
from ..database.filters.common import combine
from ..database.filters.flows import flow_filter_clause, flow_order_by
from ..database.tables import flow, flow_run, task_run
from ..errors import ObjectNotFoundError
from ..schemas.actions import FlowCreate, FlowUpdate
from ..schemas.filters import FlowFilter, FlowRunFilter, TaskRunFilter
from ..schemas.sorting import FlowSort

Row = dict[str, Any]


@dataclass(frozen=True)
class FlowQuery:
    """What the flow list endpoints filter on; resources not stored yet match nothing."""

    flows: FlowFilter | None = None
    flow_runs: FlowRunFilter | None = None
    task_runs: TaskRunFilter | None = None
    deployments: object | None = None
    work_pools: object | None = None

    def clause(self, dialect: str) -> ColumnElement[bool]:
        clauses = [flow_filter_clause(self.flows, dialect)]
        if self.flow_runs is not None or self.task_runs is not None:
            from ..database.filters.flow_runs import flow_run_filter_clause
            from ..database.filters.task_runs import task_run_filter_clause

            runs = select(flow_run.c.id).where(
                flow_run.c.flow_id == flow.c.id,
                flow_run_filter_clause(self.flow_runs, dialect),
            )
            if self.task_runs is not None:
                runs = runs.where(
                    exists(
                        select(task_run.c.id).where(
                            task_run.c.flow_run_id == flow_run.c.id,
                            task_run_filter_clause(self.task_runs, dialect),
                        )
                    )
                )
            clauses.append(exists(runs))
        # No deployments or work pools are stored yet, so no flow has a matching one.
        if self.deployments is not None or self.work_pools is not None:
            clauses.append(false())
        return combine(clauses, "and_")


def _one(connection: Connection, where: ColumnElement[bool], missing: str) -> Row:
    row = connection.execute(select(flow).where(where)).mappings().one_or_none()
    if row is None:
        raise ObjectNotFoundError(missing)
    return dict(row)


def upsert_flow(connection: Connection, data: FlowCreate, *, now: dt.datetime) -> tuple[Row, bool]:
    """The flow named ``data.name``, created if new; True when it was created."""
    insert = insert_for(connection)
    statement = (
        insert(flow)
        .values(
            id=uuid.uuid4(),
            created=now,
            updated=now,
            name=data.name,
            tags=data.tags,
            labels=data.labels,
        )
        .on_conflict_do_nothing(index_elements=[flow.c.name])
        .returning(flow.c.id)
    )
    created = connection.execute(statement).first() is not None
    return _one(connection, flow.c.name == data.name, "Flow not found"), created


def read_flow(connection: Connection, flow_id: uuid.UUID) -> Row:
    return _one(connection, flow.c.id == flow_id, "Flow not found")


def read_flow_by_name(connection: Connection, name: str) -> Row:
    return _one(connection, flow.c.name == name, "Flow not found")


def update_flow(
    connection: Connection, flow_id: uuid.UUID, data: FlowUpdate, *, now: dt.datetime
) -> None:
    changes = data.changes()
    result = connection.execute(
        flow.update().where(flow.c.id == flow_id).values(**changes, updated=now)
    )
    if result.rowcount == 0:
        raise ObjectNotFoundError("Flow not found")


def delete_flow(connection: Connection, flow_id: uuid.UUID) -> None:
    """Delete the flow and, by cascade, its runs."""
    result = connection.execute(delete(flow).where(flow.c.id == flow_id))
    if result.rowcount == 0:
        raise ObjectNotFoundError("Flow not found")


def read_flows(
    connection: Connection, query: FlowQuery, *, sort: FlowSort, offset: int, limit: int
) -> list[Row]:
    dialect = connection.dialect.name
    statement = (
        select(flow)
        .where(query.clause(dialect))
        .order_by(*flow_order_by(sort))
        .offset(offset)
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(statement).mappings()]


def count_flows(connection: Connection, query: FlowQuery) -> int:
    statement = select(func.count()).select_from(flow).where(query.clause(connection.dialect.name))
    return int(connection.execute(statement).scalar_one())


def bulk_delete_flows(
    connection: Connection, flows: FlowFilter | None, *, limit: int
) -> Sequence[uuid.UUID]:
    """Delete up to ``limit`` flows matching ``flows`` (oldest first); their ids."""
    ids = list(
        connection.execute(
            select(flow.c.id)
            .where(flow_filter_clause(flows, connection.dialect.name))
            .order_by(flow.c.created, flow.c.id)
            .limit(limit)
        ).scalars()
    )
    if ids:
        connection.execute(delete(flow).where(flow.c.id.in_(ids)))
    return ids
