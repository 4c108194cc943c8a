"""Reading events back: pages of a filter's events, and the tokens of the pages after.

A page costs two statements in the caller's read transaction, the total and the page (its
events carry their related resources in ``events.related``, so nothing else is loaded); a
next page costs one, its total travels in the token. Events come newest first (``order``
``DESC``, the default) or oldest first, ties broken by id so that pages never overlap.

``resource.distinct``: only the first event of each resource (in the filter's order) is kept,
and the total counts resources.

Page tokens
    URL-safe base64 (unpadded) of JSON: the filter with its time window made concrete, the
    total, the page size and the next offset. Later pages therefore see the same window and
    report the same total as the first, whatever arrives meanwhile. A token is opaque but not
    secret: a client could forge one, but it can only ask what it could ask ``/events/filter``
    itself (the page size is checked again), so it is not signed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, func, select

from ..database.filters.events import event_filter_clause, event_order_by
from ..database.tables.logs_events import events
from ..schemas.event_filters import EventFilter
from ..schemas.events import ReceivedEvent

__all__ = [
    "MAXIMUM_PAGE_SIZE",
    "InvalidPageTokenError",
    "PageToken",
    "count_events",
    "decode_page_token",
    "encode_page_token",
    "next_page_token",
    "read_events",
]

MAXIMUM_PAGE_SIZE = 50
"""Events per page at most (Prefect's ``INTERACTIVE_PAGE_SIZE``)."""

_EVENT_COLUMNS = ("id", "occurred", "event", "resource", "related", "payload", "follows")


class InvalidPageTokenError(ValueError):
    """A ``page-token`` that is not one of ours (garbled, truncated or tampered with)."""


class PageToken(BaseModel):
    """Where the next page of a query starts."""

    model_config = ConfigDict(extra="forbid")

    filter: EventFilter
    count: int = Field(ge=0)
    page_size: int = Field(ge=1, le=MAXIMUM_PAGE_SIZE)
    offset: int = Field(ge=0)


def next_page_token(
    criteria: EventFilter, *, count: int, page_size: int, offset: int
) -> PageToken | None:
    """The token of the page after the one at ``offset`` (None when that was the last)."""
    following = offset + page_size
    if page_size <= 0 or following >= count:
        return None
    return PageToken(filter=criteria, count=count, page_size=page_size, offset=following)


def encode_page_token(token: PageToken) -> str:
    raw = token.model_dump_json().encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(text: str) -> PageToken:
    """The token ``text`` stands for; :class:`InvalidPageTokenError` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidPageTokenError("the page token is not valid base64-encoded JSON") from exc
    try:
        return PageToken.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "token"
        raise InvalidPageTokenError(f"the page token is invalid at {where}") from exc


def _distinct_resources(criteria: EventFilter) -> bool:
    return criteria.resource is not None and criteria.resource.distinct


def count_events(connection: Connection, criteria: EventFilter, *, dialect: str) -> int:
    """How many events ``criteria`` selects (how many resources, for ``distinct``)."""
    counted = (
        func.count(events.c.resource_id.distinct())
        if _distinct_resources(criteria)
        else (func.count())
    )
    statement = select(counted).select_from(events).where(event_filter_clause(criteria, dialect))
    return int(connection.execute(statement).scalar_one())


def read_events(
    connection: Connection, criteria: EventFilter, *, limit: int, offset: int, dialect: str
) -> list[ReceivedEvent]:
    """The events ``criteria`` selects, in its order, ``limit`` of them from ``offset``."""
    if limit <= 0:
        return []
    columns = [events.c[name] for name in _EVENT_COLUMNS] + [events.c.received]
    where = event_filter_clause(criteria, dialect)
    if _distinct_resources(criteria):
        rank = (
            func.row_number()
            .over(partition_by=events.c.resource_id, order_by=event_order_by(criteria.order))
            .label("rank")
        )
        ranked = select(*columns, rank).where(where).subquery("ranked")
        statement: Any = (
            select(*(ranked.c[column.name] for column in columns))
            .where(ranked.c.rank == 1)
            .order_by(*event_order_by(criteria.order, ranked))
        )
    else:
        statement = select(*columns).where(where).order_by(*event_order_by(criteria.order))
    statement = statement.limit(limit).offset(offset)
    return [
        ReceivedEvent.model_validate(dict(row)) for row in connection.execute(statement).mappings()
    ]
