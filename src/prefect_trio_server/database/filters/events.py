"""``EventFilter`` as SQL over ``events``, and ``event_resources`` for resource criteria.

Criteria on the event itself (``occurred``, ``event``, ``id``, ``resource.id`` and
``resource.id_prefix``, ``text``) are conditions on ``events``; the ``(event, occurred, id)``
and ``(occurred, id)`` indexes serve them. Criteria on labels, related and "any" resources
become ``events.id IN (SELECT event_id FROM event_resources WHERE occurred BETWEEN ... AND
<conditions on one resource row>)``, so the ``(resource_id, occurred)`` index serves them and
all conditions of one sub-filter hold for the same resource.

Label values (:class:`ResourceSpecification`)
    ``"v"`` is equal, ``"v*"`` starts with, ``"!v"`` / ``"!v*"`` exclude. A resource matches
    when its value matches *any* of the positive values and *none* of the negative ones; a
    negative value requires the label to be present; an empty list matches nothing.
    (Prefect and-s a positive prefix with the other positive values, so ``["a", "b*"]``
    matches nothing there; here it means "a, or anything starting with b".)
    ``prefect.resource.id`` and ``prefect.resource.role`` are matched against their columns.

Text search (``text.query``)
    The syntax of the log filter (:func:`.logs.parse_text_query`), matched case-insensitively
    against the event name and the JSON text of its resource, related resources and payload
    (so label keys match too, as in Prefect). On SQLite, JSON stores non-ASCII characters as
    ``\\uXXXX`` escapes: such terms only match the event name there.

Prefixes are matched case-sensitively on both databases (``LIKE`` would not be on SQLite).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, false, func, literal, not_, or_, select

from ...schemas.base import Operator
from ...schemas.event_filters import (
    EventAnyResourceFilter,
    EventFilter,
    EventNameFilter,
    EventOrder,
    EventRelatedFilter,
    EventResourceFilter,
    EventTextFilter,
    ResourceSpecification,
)
from ..tables.logs_events import event_resources, events
from .common import combine, like_clause
from .logs import parse_text_query

__all__ = ["event_filter_clause", "event_order_by", "starts_with"]

_ID_LABEL = "prefect.resource.id"
_ROLE_LABEL = "prefect.resource.role"


def starts_with(column: Any, prefix: str, dialect: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, case-sensitively, ``%`` and ``_`` literal."""
    if dialect == "sqlite":
        result: ColumnElement[bool] = func.substr(column, 1, len(prefix)) == prefix
        return result
    matched: ColumnElement[bool] = column.startswith(prefix, autoescape=True)
    return matched


def _any_prefix(column: Any, prefixes: list[str], dialect: str) -> ColumnElement[bool]:
    return or_(*(starts_with(column, prefix, dialect) for prefix in prefixes))


def _label_values_clause(column: Any, values: list[str], dialect: str) -> ColumnElement[bool]:
    """``column`` (a label's value, NULL when absent) against a label's values."""
    if not values:
        return false()
    equal: list[str] = []
    prefixes: list[str] = []
    not_equal: list[str] = []
    not_prefixes: list[str] = []
    for value in values:
        negative = value.startswith("!")
        if negative:
            value = value[1:]
        if value.endswith("*"):
            (not_prefixes if negative else prefixes).append(value.rstrip("*"))
        else:
            (not_equal if negative else equal).append(value)
    clauses: list[ColumnElement[bool]] = []
    if equal or prefixes:
        positive = [column.in_(equal)] if equal else []
        positive.extend(starts_with(column, prefix, dialect) for prefix in prefixes)
        clauses.append(or_(*positive))
    if not_equal or not_prefixes:
        clauses.append(column.is_not(None))
        if not_equal:
            clauses.append(column.not_in(not_equal))
        clauses.extend(not_(starts_with(column, prefix, dialect)) for prefix in not_prefixes)
    return combine(clauses, Operator.and_)


def _labels_clauses(
    labels: ResourceSpecification, dialect: str, *, role_column: bool
) -> list[ColumnElement[bool]]:
    """Conditions on one ``event_resources`` row for ``labels``."""
    clauses: list[ColumnElement[bool]] = []
    for label, values in labels.items():
        if label == _ID_LABEL:
            column: Any = event_resources.c.resource_id
        elif label == _ROLE_LABEL and role_column:
            column = event_resources.c.resource_role
        else:
            column = event_resources.c.resource[label].as_string()
        clauses.append(_label_values_clause(column, values, dialect))
    return clauses


class _Scope:
    """``events.id IN`` the events with a resource row meeting some conditions."""

    def __init__(self, criteria: EventFilter) -> None:
        self.since = criteria.occurred.since
        self.until = criteria.occurred.until

    def having(self, conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
        rows = select(event_resources.c.event_id).where(
            event_resources.c.occurred >= self.since,
            event_resources.c.occurred <= self.until,
            *conditions,
        )
        return events.c.id.in_(rows)


def _name_clauses(name: EventNameFilter, dialect: str) -> list[ColumnElement[bool]]:
    column = events.c.event
    clauses: list[ColumnElement[bool]] = []
    if name.prefix:
        clauses.append(_any_prefix(column, name.prefix, dialect))
    if name.exclude_prefix:
        clauses.extend(not_(starts_with(column, p, dialect)) for p in name.exclude_prefix)
    if name.name:
        clauses.append(column.in_(name.name))
    if name.exclude_name:
        clauses.append(column.not_in(name.exclude_name))
    return clauses


def _resource_clauses(
    resource: EventResourceFilter, scope: _Scope, dialect: str
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if resource.id:
        clauses.append(events.c.resource_id.in_(resource.id))
    if resource.id_prefix:
        clauses.append(_any_prefix(events.c.resource_id, resource.id_prefix, dialect))
    if resource.labels:
        conditions = [event_resources.c.resource_role == ""]
        conditions.extend(_labels_clauses(resource.labels, dialect, role_column=False))
        clauses.append(scope.having(conditions))
    return clauses


def _related_clause(
    related: EventRelatedFilter, scope: _Scope, dialect: str
) -> ColumnElement[bool] | None:
    column = event_resources.c
    conditions: list[ColumnElement[bool]] = []
    if related.id:
        conditions.append(column.resource_id.in_(related.id))
    if related.role:
        conditions.append(column.resource_role.in_(related.role))
    if related.resources_in_roles:
        conditions.append(
            or_(
                *(
                    and_(column.resource_id == resource_id, column.resource_role == role)
                    for resource_id, role in related.resources_in_roles
                )
            )
        )
    if related.labels:
        conditions.extend(_labels_clauses(related.labels, dialect, role_column=True))
    if not conditions:
        return None
    if not related.role:
        conditions.append(column.resource_role != "")  # related, never the primary resource
    return scope.having(conditions)


def _any_resource_clause(
    any_resource: EventAnyResourceFilter, scope: _Scope, dialect: str
) -> ColumnElement[bool] | None:
    column = event_resources.c
    conditions: list[ColumnElement[bool]] = []
    if any_resource.id:
        conditions.append(column.resource_id.in_(any_resource.id))
    if any_resource.id_prefix:
        conditions.append(_any_prefix(column.resource_id, any_resource.id_prefix, dialect))
    if any_resource.labels:
        conditions.extend(_labels_clauses(any_resource.labels, dialect, role_column=True))
    return scope.having(conditions) if conditions else None


def _text_clause(text: EventTextFilter) -> ColumnElement[bool]:
    parsed = parse_text_query(text.query)
    space = literal(" ", Text)
    searchable = (
        cast(events.c.event, Text)
        + space
        + cast(events.c.resource, Text)
        + space
        + cast(events.c.related, Text)
        + space
        + cast(events.c.payload, Text)
    )
    clauses: list[ColumnElement[bool]] = []
    if parsed.include:
        clauses.append(or_(*(like_clause(searchable, term) for term in parsed.include)))
    clauses.extend(like_clause(searchable, term) for term in parsed.required)
    clauses.extend(not_(like_clause(searchable, term)) for term in parsed.exclude)
    return combine(clauses, Operator.and_)


def event_filter_clause(criteria: EventFilter, dialect: str) -> ColumnElement[bool]:
    """The rows of ``events`` that ``criteria`` selects."""
    scope = _Scope(criteria)
    clauses: list[ColumnElement[bool]] = [
        events.c.occurred >= criteria.occurred.since,
        events.c.occurred <= criteria.occurred.until,
    ]
    if criteria.event is not None:
        clauses.extend(_name_clauses(criteria.event, dialect))
    if criteria.resource is not None:
        clauses.extend(_resource_clauses(criteria.resource, scope, dialect))
    for related in criteria.related_filters():
        if (clause := _related_clause(related, scope, dialect)) is not None:
            clauses.append(clause)
    for any_resource in criteria.any_resource_filters():
        if (clause := _any_resource_clause(any_resource, scope, dialect)) is not None:
            clauses.append(clause)
    if criteria.id.id:
        clauses.append(events.c.id.in_(criteria.id.id))
    if criteria.text is not None:
        clauses.append(_text_clause(criteria.text))
    return and_(*clauses)


def event_order_by(order: EventOrder, table: Any = events) -> list[Any]:
    """By ``occurred``, then ``id`` in the same direction, so pages never overlap."""
    if order == EventOrder.ASC:
        return [table.c.occurred.asc(), table.c.id.asc()]
    return [table.c.occurred.desc(), table.c.id.desc()]
