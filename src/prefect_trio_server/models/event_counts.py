"""Counting events: ``/events/count-by/{countable}``, as Prefect 3.9 counts them.

``event`` and ``resource``
    One count per event name (per primary resource id), with the earliest and latest
    ``occurred`` as start and end, most frequent first, then by label. A resource's label is
    its ``prefect.resource.name`` (else ``prefect.name``, else its id), from its latest event.

``time`` and ``day``
    Time is cut into buckets of ``time_interval`` ``time_unit`` s, counted from Monday
    2024-04-01 00:00 UTC (Prefect's pivot), so a bucket is the same whatever the query's
    window. Every bucket from the one holding ``occurred.since`` up to ``until`` is listed,
    empty ones with count 0, oldest first; ``value`` is the bucket's position in the list
    (``"0"``, ``"1"``, ...), ``label`` its start in ISO format, ``start_time`` and
    ``end_time`` its bounds (the end is the last microsecond of the bucket). When ``until``
    is in the future the list ends with the current ``time_unit`` (today, for days). ``day``
    is ``time`` with one-day buckets, whatever ``time_unit`` and ``time_interval`` say.

    A query that would make more than 1000 buckets is refused (422), for every countable,
    as Prefect does (so ``count-by/event`` with ``time_unit`` ``second`` over a long window
    is refused too). Bucketing is exact integer arithmetic on microseconds, on both databases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, cast, extract, func, select

from ..database.filters.events import event_filter_clause
from ..database.tables.logs_events import events
from ..errors import InvalidRequestError
from ..schemas.event_filters import EventFilter
from ..schemas.event_pages import Countable, EventCount, TimeUnit

__all__ = ["MAXIMUM_BUCKETS", "PIVOT", "bucket_spans", "count_events_by", "end_of"]

PIVOT = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
"""Time buckets are counted from here (a Monday, before any Prefect 3 event)."""
MAXIMUM_BUCKETS = 1000

_MICROSECOND = dt.timedelta(microseconds=1)
_UNIT = {
    TimeUnit.week: dt.timedelta(weeks=1),
    TimeUnit.day: dt.timedelta(days=1),
    TimeUnit.hour: dt.timedelta(hours=1),
    TimeUnit.minute: dt.timedelta(minutes=1),
    TimeUnit.second: dt.timedelta(seconds=1),
}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def bucket_width(unit: TimeUnit, interval: float) -> dt.timedelta:
    """``interval`` ``unit`` s, to the microsecond (at least one)."""
    microseconds = round(_UNIT[unit] / _MICROSECOND * interval)
    return dt.timedelta(microseconds=max(1, microseconds))


def check_buckets(since: dt.datetime, until: dt.datetime, width: dt.timedelta) -> None:
    """Refuse (422) a window that holds more than ``MAXIMUM_BUCKETS`` buckets."""
    buckets = -((since - until) // width)  # ceil
    if buckets > MAXIMUM_BUCKETS:
        raise InvalidRequestError(
            f"The given interval would create {buckets} buckets, which is too many. Please "
            "increase the interval or reduce the time range to produce "
            f"{MAXIMUM_BUCKETS} buckets or fewer."
        )


def end_of(unit: TimeUnit, moment: dt.datetime) -> dt.datetime:
    """The last microsecond of the ``unit`` holding ``moment`` (weeks start on Monday)."""
    if unit == TimeUnit.second:
        return moment.replace(microsecond=999_999)
    if unit == TimeUnit.minute:
        return moment.replace(second=59, microsecond=999_999)
    if unit == TimeUnit.hour:
        return moment.replace(minute=59, second=59, microsecond=999_999)
    end_of_day = moment.replace(hour=23, minute=59, second=59, microsecond=999_999)
    if unit == TimeUnit.day:
        return end_of_day
    return end_of_day + dt.timedelta(days=6 - moment.weekday())


@dataclass(frozen=True)
class Span:
    index: int
    """Buckets since the pivot."""
    start: dt.datetime
    end: dt.datetime


def bucket_spans(
    since: dt.datetime, until: dt.datetime, unit: TimeUnit, width: dt.timedelta, now: dt.datetime
) -> Iterator[Span]:
    """The buckets from the one holding ``since`` to ``until`` (or the current ``unit``)."""
    end = end_of(unit, now) if until > now else until
    index = (since - PIVOT) // width
    while (span := _span(index, width)).start < end:
        yield span
        index += 1


def _span(index: int, width: dt.timedelta) -> Span:
    start = PIVOT + width * index
    return Span(index, start, start + width - _MICROSECOND)


def _epoch_microseconds(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return cast(func.floor(extract("epoch", column) * 1_000_000), BigInteger)
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds, then the fraction.
    seconds = cast(func.strftime("%s", column), Integer)
    return seconds * 1_000_000 + cast(func.substr(column, 21, 6), Integer)


def _time_counts(
    connection: Connection,
    criteria: EventFilter,
    unit: TimeUnit,
    width: dt.timedelta,
    dialect: str,
) -> list[EventCount]:
    width_us = width // _MICROSECOND
    since_pivot = _epoch_microseconds(events.c.occurred, dialect) - (
        (PIVOT - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // _MICROSECOND
    )
    bucket_start = since_pivot - ((since_pivot % width_us) + width_us) % width_us
    inner = (
        select(bucket_start.label("bucket"))
        .where(event_filter_clause(criteria, dialect))
        .subquery("buckets")
    )
    statement = select(inner.c.bucket, func.count().label("n")).group_by(inner.c.bucket)
    found = {int(row.bucket) // width_us: int(row.n) for row in connection.execute(statement)}
    occurred = criteria.occurred
    spans = list(bucket_spans(occurred.since, occurred.until, unit, width, _utcnow()))
    if found:  # events at exactly ``until``, when it starts a bucket, are in the next one
        following = spans[-1].index + 1 if spans else (occurred.since - PIVOT) // width
        spans += [_span(index, width) for index in range(following, max(found) + 1)]
    return [
        EventCount(
            value=str(position),
            label=span.start.isoformat(),
            count=found.get(span.index, 0),
            start_time=span.start,
            end_time=span.end,
        )
        for position, span in enumerate(spans)
    ]


@dataclass
class _Group:
    label: str
    latest: dt.datetime
    oldest: dt.datetime
    count: int


def _value_counts(
    connection: Connection, criteria: EventFilter, countable: Countable, dialect: str
) -> list[EventCount]:
    if countable == Countable.event:
        value: Any = events.c.event
        label: Any = events.c.event
    else:
        value = events.c.resource_id
        label = func.coalesce(
            events.c.resource["prefect.resource.name"].as_string(),
            events.c.resource["prefect.name"].as_string(),
            events.c.resource_id,
        )
    inner = (
        select(value.label("value"), label.label("label"), events.c.occurred)
        .where(event_filter_clause(criteria, dialect))
        .subquery("counted")
    )
    statement = select(
        inner.c.value,
        inner.c.label,
        func.count().label("n"),
        func.min(inner.c.occurred).label("oldest"),
        func.max(inner.c.occurred).label("latest"),
    ).group_by(inner.c.value, inner.c.label)
    groups: dict[str, _Group] = {}
    for row in connection.execute(statement):
        group = groups.get(row.value)
        if group is None:
            groups[row.value] = _Group(row.label, row.latest, row.oldest, int(row.n))
            continue
        if (row.latest, row.label) > (group.latest, group.label):  # the latest label wins
            group.label, group.latest = row.label, row.latest
        group.oldest = min(group.oldest, row.oldest)
        group.count += int(row.n)
    ordered = sorted(groups.items(), key=lambda item: (-item[1].count, item[1].label, item[0]))
    return [
        EventCount(
            value=key,
            label=group.label,
            count=group.count,
            start_time=group.oldest,
            end_time=group.latest,
        )
        for key, group in ordered
    ]


def count_events_by(
    connection: Connection,
    criteria: EventFilter,
    countable: Countable,
    *,
    time_unit: TimeUnit,
    time_interval: float,
    dialect: str,
) -> list[EventCount]:
    """The counts of the events ``criteria`` selects, grouped by ``countable``."""
    occurred = criteria.occurred
    check_buckets(occurred.since, occurred.until, bucket_width(time_unit, time_interval))
    if countable == Countable.day:
        width = bucket_width(TimeUnit.day, 1)
        return _time_counts(connection, criteria, TimeUnit.day, width, dialect)
    if countable == Countable.time:
        width = bucket_width(time_unit, time_interval)
        return _time_counts(connection, criteria, time_unit, width, dialect)
    return _value_counts(connection, criteria, countable, dialect)
