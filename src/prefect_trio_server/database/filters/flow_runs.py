"""``FlowRunFilter`` and ``FlowRunSort`` as SQL over the ``flow_run`` table.

The semantics are Prefect's: criteria inside one filter object are combined with its
``operator`` (``and_`` unless it has none), a sub-filter object sent without criteria matches
everything, ``before_``/``after_`` are inclusive and ``like_`` is a case-insensitive substring
match. Two Prefect details worth knowing:

* ``start_time.before_``/``after_`` compare ``coalesce(start_time, expected_start_time)``, so
  runs that have not started yet are placed at their scheduled time (``is_null_`` still looks
  at ``start_time`` alone);
* ``not_any_`` is SQL ``NOT IN``: rows whose column is NULL are excluded as well.

A criterion this module does not know (a field added to the schema later) is refused with
:class:`~prefect_trio_server.errors.InvalidRequestError` rather than ignored, since ignoring it
would return (or delete) too many rows.

Subqueries use aliases of ``flow_run``/``task_run`` so that these clauses can be embedded in
queries that already select from those tables without being correlated to them by accident.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select, true

from ...errors import InvalidRequestError
from ...schemas.base import FilterModel
from ...schemas.filters import (
    FlowRunFilter,
    FlowRunFilterCreatedBy,
    FlowRunFilterState,
    FlowRunFilterTags,
)
from ...schemas.sorting import FlowRunSort
from ..dialects import jsonb
from ..tables import flow_run, task_run
from .common import (
    combine,
    is_null_clause,
    json_list_contains_all,
    json_list_contains_any,
    json_list_is_empty,
    like_clause,
)

__all__ = [
    "flow_run_filter_clause",
    "flow_run_order_by",
    "reject_unsupported_criteria",
    "time_range_clauses",
]

_FLOW_RUN_FIELDS = frozenset(FlowRunFilter.model_fields) - {"operator"}


def reject_unsupported_criteria(
    criteria: FilterModel, supported: Collection[str], path: str
) -> None:
    """Raise :class:`InvalidRequestError` if ``criteria`` sets a field not in ``supported``.

    ``path`` names the filter object on the wire (``flow_runs.state``) for the message.
    """
    for name in type(criteria).model_fields:
        if name == "operator" or name in supported:
            continue
        if getattr(criteria, name) is not None:
            raise InvalidRequestError(f"Filtering by `{path}.{name}` is not supported")


def time_range_clauses(
    column: Any, before: dt.datetime | None, after: dt.datetime | None
) -> list[ColumnElement[bool]]:
    """Inclusive ``before_``/``after_`` bounds on ``column`` (none for None)."""
    clauses: list[ColumnElement[bool]] = []
    if before is not None:
        clauses.append(column <= before)
    if after is not None:
        clauses.append(column >= after)
    return clauses


def _in(column: Any, values: list[Any] | None) -> list[ColumnElement[bool]]:
    return [] if values is None else [column.in_(values)]


def _not_in(column: Any, values: list[Any] | None) -> list[ColumnElement[bool]]:
    return [] if values is None else [column.not_in(values)]


def _is_null(column: Any, is_null: bool | None) -> list[ColumnElement[bool]]:
    return [] if is_null is None else [is_null_clause(column, is_null)]


def _tags_clause(criteria: FlowRunFilterTags, dialect: str) -> ColumnElement[bool]:
    column = flow_run.c.tags
    clauses: list[ColumnElement[bool]] = []
    if criteria.all_ is not None:
        clauses.append(json_list_contains_all(column, criteria.all_, dialect))
    if criteria.any_ is not None:
        clauses.append(json_list_contains_any(column, criteria.any_, dialect))
    if criteria.is_null_ is not None:
        empty = json_list_is_empty(column, dialect)
        clauses.append(empty if criteria.is_null_ else ~empty)
    return combine(clauses, criteria.operator)


def _state_clause(criteria: FlowRunFilterState) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    # Like Prefect, an empty ``type``/``name`` object adds no condition (it does not turn an
    # ``or_`` into "everything").
    if criteria.type is not None:
        type_clauses = [
            *_in(flow_run.c.state_type, criteria.type.any_),
            *_not_in(flow_run.c.state_type, criteria.type.not_any_),
        ]
        if type_clauses:
            clauses.append(combine(type_clauses, "and_"))
    if criteria.name is not None:
        name_clauses = [
            *_in(flow_run.c.state_name, criteria.name.any_),
            *_not_in(flow_run.c.state_name, criteria.name.not_any_),
        ]
        if name_clauses:
            clauses.append(combine(name_clauses, "and_"))
    return combine(clauses, criteria.operator)


def _json_is_null(column: Any, dialect: str) -> ColumnElement[bool]:
    """``column`` is SQL NULL or the JSON ``null`` (what ``None`` is stored as)."""
    if dialect == "postgresql":
        return or_(column.is_(None), func.jsonb_typeof(column.cast(jsonb())) == "null")
    return or_(column.is_(None), func.json_type(column) == "null")


def _json_text(column: Any, key: str, dialect: str) -> ColumnElement[Any]:
    """The string at ``column[key]`` (NULL when missing or not an object)."""
    if dialect == "postgresql":
        result: ColumnElement[Any] = column.cast(jsonb())[key].astext
        return result
    # ``->>`` needs SQLite 3.38; json_extract returns strings unquoted as well.
    return func.json_extract(column, literal(f'$."{key}"'))


def _created_by_clause(criteria: FlowRunFilterCreatedBy, dialect: str) -> ColumnElement[bool]:
    column = flow_run.c.created_by
    clauses: list[ColumnElement[bool]] = []
    if criteria.id_ is not None:
        ids = [str(value) for value in criteria.id_]
        clauses.append(func.lower(_json_text(column, "id", dialect)).in_(ids))
    if criteria.type_ is not None:
        clauses.append(_json_text(column, "type", dialect).in_(criteria.type_))
    if criteria.is_null_ is not None:
        missing = _json_is_null(column, dialect)
        clauses.append(missing if criteria.is_null_ else ~missing)
    return combine(clauses, criteria.operator)


def _subflows_of(parent_flow_run_ids: list[uuid.UUID]) -> ColumnElement[bool]:
    """Flow runs whose parent task run belongs to one of ``parent_flow_run_ids``."""
    parent_task = task_run.alias("parent_task_run")
    return flow_run.c.parent_task_run_id.in_(
        select(parent_task.c.id).where(parent_task.c.flow_run_id.in_(parent_flow_run_ids))
    )


def flow_run_filter_clause(criteria: FlowRunFilter | None, dialect: str) -> ColumnElement[bool]:
    """The rows of ``flow_run`` that ``criteria`` selects (everything for None).

    ``dialect`` is ``"sqlite"`` or ``"postgresql"`` (:attr:`Database.dialect`). Raises
    :class:`InvalidRequestError` for a criterion this server cannot evaluate.
    """
    if criteria is None:
        return true()
    reject_unsupported_criteria(criteria, _FLOW_RUN_FIELDS, "flow_runs")
    c = flow_run.c
    clauses: list[ColumnElement[bool]] = []
    if criteria.id is not None:
        clauses.append(
            combine([*_in(c.id, criteria.id.any_), *_not_in(c.id, criteria.id.not_any_)], "and_")
        )
    if criteria.name is not None:
        name = criteria.name
        like = [] if name.like_ is None else [like_clause(c.name, name.like_)]
        clauses.append(combine([*_in(c.name, name.any_), *like], "and_"))
    if criteria.tags is not None:
        clauses.append(_tags_clause(criteria.tags, dialect))
    if criteria.deployment_id is not None:
        deployment = criteria.deployment_id
        deployment_clauses = [
            *_in(c.deployment_id, deployment.any_),
            *_is_null(c.deployment_id, deployment.is_null_),
        ]
        clauses.append(combine(deployment_clauses, deployment.operator))
    if criteria.work_queue_name is not None:
        queue = criteria.work_queue_name
        queue_clauses = [
            *_in(c.work_queue_name, queue.any_),
            *_is_null(c.work_queue_name, queue.is_null_),
        ]
        clauses.append(combine(queue_clauses, queue.operator))
    if criteria.state is not None:
        clauses.append(_state_clause(criteria.state))
    if criteria.flow_version is not None:
        clauses.append(combine(_in(c.flow_version, criteria.flow_version.any_), "and_"))
    if criteria.start_time is not None:
        start = criteria.start_time
        scheduled_or_started = func.coalesce(c.start_time, c.expected_start_time)
        start_clauses = [
            *time_range_clauses(scheduled_or_started, start.before_, start.after_),
            *_is_null(c.start_time, start.is_null_),
        ]
        clauses.append(combine(start_clauses, "and_"))
    if criteria.end_time is not None:
        end = criteria.end_time
        end_clauses = [
            *time_range_clauses(c.end_time, end.before_, end.after_),
            *_is_null(c.end_time, end.is_null_),
        ]
        clauses.append(combine(end_clauses, "and_"))
    if criteria.expected_start_time is not None:
        expected = criteria.expected_start_time
        clauses.append(
            combine(
                time_range_clauses(c.expected_start_time, expected.before_, expected.after_), "and_"
            )
        )
    if criteria.next_scheduled_start_time is not None:
        scheduled = criteria.next_scheduled_start_time
        clauses.append(
            combine(
                time_range_clauses(
                    c.next_scheduled_start_time, scheduled.before_, scheduled.after_
                ),
                "and_",
            )
        )
    if criteria.parent_flow_run_id is not None:
        parent = criteria.parent_flow_run_id
        parent_clauses = [] if parent.any_ is None else [_subflows_of(parent.any_)]
        clauses.append(combine(parent_clauses, parent.operator))
    if criteria.parent_task_run_id is not None:
        parent_task = criteria.parent_task_run_id
        parent_task_clauses = [
            *_in(c.parent_task_run_id, parent_task.any_),
            *_is_null(c.parent_task_run_id, parent_task.is_null_),
        ]
        clauses.append(combine(parent_task_clauses, parent_task.operator))
    if criteria.idempotency_key is not None:
        key = criteria.idempotency_key
        key_clauses = [*_in(c.idempotency_key, key.any_), *_not_in(c.idempotency_key, key.not_any_)]
        clauses.append(combine(key_clauses, "and_"))
    if criteria.created_by is not None:
        clauses.append(_created_by_clause(criteria.created_by, dialect))
    return combine(clauses, criteria.operator)


@functools.cache
def flow_run_order_by(sort: FlowRunSort) -> tuple[ColumnElement[Any], ...]:
    """ORDER BY for ``sort``, with the id as a tie-breaker so pages are stable (built once).

    NULLs sort last in every direction, on SQLite and PostgreSQL alike: runs that have not
    started (or ended, or been scheduled) come after those that have.
    """
    c = flow_run.c
    started = func.coalesce(c.start_time, c.expected_start_time)
    orders: dict[FlowRunSort, list[ColumnElement[Any]]] = {
        FlowRunSort.ID_DESC: [c.id.desc()],
        FlowRunSort.START_TIME_ASC: [started.asc().nulls_last(), c.id.asc()],
        FlowRunSort.START_TIME_DESC: [started.desc().nulls_last(), c.id.desc()],
        FlowRunSort.EXPECTED_START_TIME_ASC: [
            c.expected_start_time.asc().nulls_last(),
            c.id.asc(),
        ],
        FlowRunSort.EXPECTED_START_TIME_DESC: [
            c.expected_start_time.desc().nulls_last(),
            c.id.desc(),
        ],
        FlowRunSort.NAME_ASC: [c.name.asc(), c.id.asc()],
        FlowRunSort.NAME_DESC: [c.name.desc(), c.id.desc()],
        FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC: [
            c.next_scheduled_start_time.asc().nulls_last(),
            c.id.asc(),
        ],
        FlowRunSort.END_TIME_DESC: [c.end_time.desc().nulls_last(), c.id.desc()],
    }
    return tuple(orders[FlowRunSort(sort)])
