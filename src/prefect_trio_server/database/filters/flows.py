"""``FlowFilter`` and ``FlowSort`` as SQL over the ``flow`` table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, true

from ...schemas.filters import FlowFilter
from ...schemas.sorting import FlowSort
from ..tables import flow
from .common import combine, json_list_contains_all, json_list_is_empty, like_clause


def flow_filter_clause(criteria: FlowFilter | None, dialect: str) -> ColumnElement[bool]:
    """The rows of ``flow`` that ``criteria`` selects (everything for None)."""
    if criteria is None:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if criteria.id is not None:
        if criteria.id.any_ is not None:
            clauses.append(flow.c.id.in_(criteria.id.any_))
        if criteria.id.not_any_ is not None:
            clauses.append(flow.c.id.not_in(criteria.id.not_any_))
    if criteria.name is not None:
        if criteria.name.any_ is not None:
            clauses.append(flow.c.name.in_(criteria.name.any_))
        if criteria.name.like_ is not None:
            clauses.append(like_clause(flow.c.name, criteria.name.like_))
    if criteria.tags is not None:
        tag_clauses: list[ColumnElement[bool]] = []
        if criteria.tags.all_ is not None:
            tag_clauses.append(json_list_contains_all(flow.c.tags, criteria.tags.all_, dialect))
        if criteria.tags.is_null_ is not None:
            empty = json_list_is_empty(flow.c.tags, dialect)
            tag_clauses.append(empty if criteria.tags.is_null_ else ~empty)
        clauses.append(combine(tag_clauses, criteria.tags.operator))
    if criteria.deployment is not None and criteria.deployment.is_null_ is not None:
        # This server stores no deployments yet: every flow has none.
        clauses.append(true() if criteria.deployment.is_null_ else false())
    return combine(clauses, criteria.operator)


def flow_order_by(sort: FlowSort) -> list[Any]:
    """ORDER BY for ``sort``, with the id as a tie-breaker so pages are stable."""
    orders = {
        FlowSort.CREATED_DESC: [flow.c.created.desc()],
        FlowSort.UPDATED_DESC: [flow.c.updated.desc()],
        FlowSort.NAME_ASC: [flow.c.name.asc()],
        FlowSort.NAME_DESC: [flow.c.name.desc()],
    }
    return [*orders[sort], flow.c.id]
