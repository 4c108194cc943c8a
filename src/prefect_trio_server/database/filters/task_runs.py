"""``TaskRunFilter`` and ``TaskRunSort`` as SQL over the ``task_run`` table.

Semantics as in :mod:`.flow_runs` (Prefect's). Particular to task runs:

* ``flow_run_id.is_null_`` defaults to false, and then (without ``any_``) selects the task runs
  that *have* a flow run, as Prefect does; with ``any_`` it adds nothing; true selects the
  task runs without one (``any_`` is then ignored);
* ``subflow_runs.exists_`` selects the task runs that are the parent task run of some flow run
  (false: that are not).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ColumnElement, exists, literal, select, true

from ...schemas.filters import (
    TaskRunFilter,
    TaskRunFilterFlowRunId,
    TaskRunFilterState,
    TaskRunFilterTags,
)
from ...schemas.sorting import TaskRunSort
from ..tables import flow_run, task_run
from .common import (
    combine,
    is_null_clause,
    json_list_contains_all,
    json_list_is_empty,
    like_clause,
)
from .flow_runs import reject_unsupported_criteria, time_range_clauses

__all__ = ["task_run_filter_clause", "task_run_order_by"]

_TASK_RUN_FIELDS = frozenset(TaskRunFilter.model_fields) - {"operator"}


def _tags_clause(criteria: TaskRunFilterTags, dialect: str) -> ColumnElement[bool]:
    column = task_run.c.tags
    clauses: list[ColumnElement[bool]] = []
    if criteria.all_ is not None:
        clauses.append(json_list_contains_all(column, criteria.all_, dialect))
    if criteria.is_null_ is not None:
        empty = json_list_is_empty(column, dialect)
        clauses.append(empty if criteria.is_null_ else ~empty)
    return combine(clauses, criteria.operator)


def _state_clause(criteria: TaskRunFilterState) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    # An empty ``type``/``name`` object adds no condition, as in Prefect.
    if criteria.type is not None and criteria.type.any_ is not None:
        clauses.append(task_run.c.state_type.in_(criteria.type.any_))
    if criteria.name is not None and criteria.name.any_ is not None:
        clauses.append(task_run.c.state_name.in_(criteria.name.any_))
    return combine(clauses, criteria.operator)


def _flow_run_id_clause(criteria: TaskRunFilterFlowRunId) -> ColumnElement[bool]:
    column = task_run.c.flow_run_id
    clauses: list[ColumnElement[bool]] = []
    if criteria.is_null_ is True:
        clauses.append(column.is_(None))
    elif criteria.is_null_ is False and criteria.any_ is None:
        clauses.append(column.is_not(None))
    elif criteria.any_ is not None:
        clauses.append(column.in_(criteria.any_))
    return combine(clauses, criteria.operator)


def _has_subflow_run() -> ColumnElement[bool]:
    # An alias, so that the subquery correlates to ``task_run`` only, even when embedded in a
    # query over ``flow_run``.
    child = flow_run.alias("subflow_run")
    return exists(
        select(literal(1)).select_from(child).where(child.c.parent_task_run_id == task_run.c.id)
    )


def task_run_filter_clause(criteria: TaskRunFilter | None, dialect: str) -> ColumnElement[bool]:
    """The rows of ``task_run`` that ``criteria`` selects (everything for None).

    ``dialect`` is ``"sqlite"`` or ``"postgresql"``. Raises
    :class:`~prefect_trio_server.errors.InvalidRequestError` for a criterion this server
    cannot evaluate.
    """
    if criteria is None:
        return true()
    reject_unsupported_criteria(criteria, _TASK_RUN_FIELDS, "task_runs")
    c = task_run.c
    clauses: list[ColumnElement[bool]] = []
    if criteria.id is not None:
        ids = [] if criteria.id.any_ is None else [c.id.in_(criteria.id.any_)]
        clauses.append(combine(ids, "and_"))
    if criteria.name is not None:
        name = criteria.name
        name_clauses: list[ColumnElement[bool]] = []
        if name.any_ is not None:
            name_clauses.append(c.name.in_(name.any_))
        if name.like_ is not None:
            name_clauses.append(like_clause(c.name, name.like_))
        clauses.append(combine(name_clauses, "and_"))
    if criteria.tags is not None:
        clauses.append(_tags_clause(criteria.tags, dialect))
    if criteria.state is not None:
        clauses.append(_state_clause(criteria.state))
    if criteria.start_time is not None:
        start = criteria.start_time
        start_clauses = time_range_clauses(c.start_time, start.before_, start.after_)
        if start.is_null_ is not None:
            start_clauses.append(is_null_clause(c.start_time, start.is_null_))
        clauses.append(combine(start_clauses, "and_"))
    if criteria.end_time is not None:
        end = criteria.end_time
        end_clauses = time_range_clauses(c.end_time, end.before_, end.after_)
        if end.is_null_ is not None:
            end_clauses.append(is_null_clause(c.end_time, end.is_null_))
        clauses.append(combine(end_clauses, "and_"))
    if criteria.expected_start_time is not None:
        expected = criteria.expected_start_time
        clauses.append(
            combine(
                time_range_clauses(c.expected_start_time, expected.before_, expected.after_),
                "and_",
            )
        )
    if criteria.subflow_runs is not None:
        wanted = criteria.subflow_runs.exists_
        has_subflow = _has_subflow_run()
        clauses.append(true() if wanted is None else has_subflow if wanted else ~has_subflow)
    if criteria.flow_run_id is not None:
        clauses.append(_flow_run_id_clause(criteria.flow_run_id))
    return combine(clauses, criteria.operator)


@functools.cache
def task_run_order_by(sort: TaskRunSort) -> tuple[ColumnElement[Any], ...]:
    """ORDER BY for ``sort``, with the id as a tie-breaker so pages are stable (built once).

    NULLs sort last in every direction, on SQLite and PostgreSQL alike. ``DURATION_*`` is
    ``total_run_time``.
    """
    c = task_run.c
    orders: dict[TaskRunSort, list[ColumnElement[Any]]] = {
        TaskRunSort.ID_DESC: [c.id.desc()],
        TaskRunSort.EXPECTED_START_TIME_ASC: [
            c.expected_start_time.asc().nulls_last(),
            c.id.asc(),
        ],
        TaskRunSort.EXPECTED_START_TIME_DESC: [
            c.expected_start_time.desc().nulls_last(),
            c.id.desc(),
        ],
        TaskRunSort.NAME_ASC: [c.name.asc(), c.id.asc()],
        TaskRunSort.NAME_DESC: [c.name.desc(), c.id.desc()],
        TaskRunSort.NEXT_SCHEDULED_START_TIME_ASC: [
            c.next_scheduled_start_time.asc().nulls_last(),
            c.id.asc(),
        ],
        TaskRunSort.END_TIME_DESC: [c.end_time.desc().nulls_last(), c.id.desc()],
        TaskRunSort.DURATION_ASC: [c.total_run_time.asc(), c.id.asc()],
        TaskRunSort.DURATION_DESC: [c.total_run_time.desc(), c.id.desc()],
    }
    return tuple(orders[TaskRunSort(sort)])
