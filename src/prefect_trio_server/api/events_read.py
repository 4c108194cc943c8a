"""Reading events: ``POST /events/filter``, ``GET /events/filter/next``, ``/events/count-by``.

Pages
    ``/events/filter`` answers the first page of at most ``limit`` (0 to 50, default 50)
    events with the ``total`` and, when more follow, ``next_page``: the absolute URL of
    ``/events/filter/next?page-token=...`` on the host and path the client used. Follow it
    until ``next_page`` is null; every page reports the first page's total and time window.
    A page token that is not one of ours answers **403**, as Prefect's server does, with the
    reason in ``detail``; a missing one is a 422. ``limit: 0`` answers the total only.

Counts
    ``/events/count-by/{day,time,event,resource}``: see :mod:`..models.event_counts`. A
    window that would need over 1000 time buckets is a 422 with the reason in ``detail``.

Each request first stores the events still staged in the outbox (``events.persister``), so
a client reads the events of its own changes, then reads in one read transaction; see
:mod:`..models.event_queries` for what a page costs and :mod:`..database.filters.events` for
the filter semantics.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Body, Path, Query, Request, Response
from pydantic import TypeAdapter
from sqlalchemy import Connection

from ..errors import InvalidRequestError
from ..events.persister import move_staged_logging_failures
from ..models import event_queries as queries
from ..models.event_counts import count_events_by
from ..models.event_queries import MAXIMUM_PAGE_SIZE, InvalidPageTokenError, PageToken
from ..schemas.event_filters import EventFilter
from ..schemas.event_pages import Countable, EventCount, EventPage, TimeUnit
from .dependencies import DatabaseDep
from .responses import model_response
from .routing import DeferredRouter

__all__ = ["router"]

router = DeferredRouter(prefix="/events", tags=["Events"])

_COUNTS = TypeAdapter(list[EventCount])


def _next_page_url(request: Request, token: PageToken | None) -> str | None:
    if token is None:
        return None
    path = request.url.path.rstrip("/")
    if not path.endswith("/next"):
        path += "/next"
    query = urlencode({"page-token": queries.encode_page_token(token)})
    return str(request.url.replace(path=path, query=query))


@router.post("/filter", response_model=EventPage)
async def read_events(
    request: Request,
    database: DatabaseDep,
    filter: Annotated[
        EventFilter | None,
        Body(description="Additional optional filter criteria to narrow down the set of Events"),
    ] = None,
    limit: Annotated[
        int,
        Body(
            ge=0, le=MAXIMUM_PAGE_SIZE, description="The number of events to return with each page"
        ),
    ] = MAXIMUM_PAGE_SIZE,
) -> Response:
    """Queries for Events matching the given filter criteria in the given Account.  Returns
    the first page of results, and the URL to request the next page (if there are more
    results)."""
    criteria = filter if filter is not None else EventFilter()
    dialect = database.dialect
    # A client reads the events of its own changes; if they cannot be moved now, it reads
    # what is stored (the failure is logged, the events stay staged for the persister).
    await move_staged_logging_failures(database)

    def work(connection: Connection) -> EventPage:
        total = queries.count_events(connection, criteria, dialect=dialect)
        events = queries.read_events(connection, criteria, limit=limit, offset=0, dialect=dialect)
        token = queries.next_page_token(criteria, count=total, page_size=limit, offset=0)
        return EventPage(events=events, total=total, next_page=_next_page_url(request, token))

    return model_response(await database.read(work))


@router.get("/filter/next", response_model=EventPage)
async def read_account_events_page(
    request: Request,
    database: DatabaseDep,
    page_token: Annotated[str, Query(alias="page-token")],
) -> Response:
    """Returns the next page of Events for a previous query against the given Account, and
    the URL to request the next page (if there are more results)."""
    try:
        token = queries.decode_page_token(page_token)
    except InvalidPageTokenError as exc:
        raise InvalidRequestError(f"Invalid page token: {exc}", status=403) from exc
    dialect = database.dialect
    await move_staged_logging_failures(database)

    def work(connection: Connection) -> EventPage:
        events = queries.read_events(
            connection, token.filter, limit=token.page_size, offset=token.offset, dialect=dialect
        )
        following = queries.next_page_token(
            token.filter, count=token.count, page_size=token.page_size, offset=token.offset
        )
        return EventPage(
            events=events, total=token.count, next_page=_next_page_url(request, following)
        )

    return model_response(await database.read(work))


@router.post("/count-by/{countable}", response_model=list[EventCount])
async def count_account_events(
    database: DatabaseDep,
    filter: Annotated[EventFilter, Body()],
    countable: Annotated[Countable, Path()],
    time_unit: Annotated[TimeUnit, Body()] = TimeUnit.day,
    time_interval: Annotated[float, Body(ge=0.01)] = 1.0,
) -> Response:
    """Returns distinct objects and the count of events associated with them.  Objects
    that can be counted include the day the event occurred, the type of event, or
    the IDs of the resources associated with the event."""
    dialect = database.dialect
    await move_staged_logging_failures(database)

    def work(connection: Connection) -> list[EventCount]:
        return count_events_by(
            connection,
            filter,
            countable,
            time_unit=time_unit,
            time_interval=time_interval,
            dialect=dialect,
        )

    counts = await database.read(work)
    return Response(content=_COUNTS.dump_json(counts), media_type="application/json")
