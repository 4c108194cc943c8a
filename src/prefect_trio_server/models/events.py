"""Storing events: the ``events`` and ``event_resources`` tables, and the task-run recorder.

:func:`record_events` is the one way in. It runs inside the caller's write transaction, so an
event is stored and its task run recorded together or not at all. It is idempotent on event
id: an event already stored (a client re-sending what it could not confirm, or a repeated
``POST /events``) is skipped whole, and so is a repeat of an id within one batch.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from ..database.dialects import insert_for_dialect
from ..database.driver_writes import DriverWrite
from ..database.tables.logs_events import event_resources, events
from ..schemas.events import (
    MAXIMUM_EVENT_NAME_LENGTH,
    MAXIMUM_LABELS_PER_RESOURCE,
    MAXIMUM_RELATED_RESOURCES,
    Event,
)
from .task_run_recorder import record_task_run_events

__all__ = [
    "check_server_event",
    "event_resource_rows",
    "event_row",
    "record_events",
    "record_server_event",
]

# Rows per INSERT statement: well below SQLite's limit on bound parameters.
_CHUNK = 200

# Built once (per dialect): SQLAlchemy compiles a statement it has seen before from its
# cache, instead of building and hashing a new one for every event stored.
_INSERT_RESOURCES = DriverWrite(event_resources.insert())


@functools.cache
def _insert_events(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: the ids actually stored."""
    return insert_for_dialect(dialect)(events).on_conflict_do_nothing().returning(events.c.id)


@functools.cache
def _insert_event(dialect: str) -> DriverWrite:
    """One event, skipped if its id is stored already (``rowcount`` tells which)."""
    return DriverWrite(insert_for_dialect(dialect)(events).on_conflict_do_nothing())


def event_row(event: Event, *, received: dt.datetime, now: dt.datetime) -> dict[str, Any]:
    """The ``events`` row of ``event``."""
    return _event_row(
        event_id=event.id,
        occurred=event.occurred,
        name=event.event,
        resource=event.resource.root,
        related=[related.root for related in event.related],
        payload=event.payload,
        follows=event.follows,
        received=received,
        now=now,
    )


def event_resource_rows(event: Event, *, now: dt.datetime) -> list[dict[str, Any]]:
    """The ``event_resources`` rows of ``event``: its resource (role ``""``) and related ones."""
    return _resource_rows(
        event_id=event.id,
        occurred=event.occurred,
        resource=event.resource.root,
        related=[related.root for related in event.related],
        now=now,
    )


_ID = "prefect.resource.id"
_ROLE = "prefect.resource.role"


def _event_row(
    *,
    event_id: uuid.UUID,
    occurred: dt.datetime,
    name: str,
    resource: Mapping[str, str],
    related: Sequence[Mapping[str, str]],
    payload: Mapping[str, Any],
    follows: uuid.UUID | None,
    received: dt.datetime,
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "created": now,
        "updated": now,
        "occurred": occurred,
        "event": name,
        "resource_id": resource[_ID],
        "resource": dict(resource),
        "related_resource_ids": [labels[_ID] for labels in related],
        "related": [dict(labels) for labels in related],
        "payload": dict(payload),
        "received": received,
        "recorded": now,
        "follows": follows,
    }


def _resource_rows(
    *,
    event_id: uuid.UUID,
    occurred: dt.datetime,
    resource: Mapping[str, str],
    related: Sequence[Mapping[str, str]],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """The event's resource (role ``""``) and its related resources (their own role)."""
    return [
        {
            "id": uuid.uuid4(),
            "created": now,
            "updated": now,
            "occurred": occurred,
            "resource_id": labels[_ID],
            "resource_role": labels[_ROLE] if role_labelled else "",
            "resource": {key: value for key, value in labels.items() if key not in (_ID, _ROLE)},
            "event_id": event_id,
        }
        for labels, role_labelled in ((resource, False), *((labels, True) for labels in related))
    ]


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


def record_events(
    connection: Connection,
    batch: Iterable[Event],
    *,
    now: dt.datetime,
    received: dt.datetime | None = None,
) -> list[Event]:
    """Store ``batch`` and record the task runs its events describe; return the new events.

    ``received`` (default ``now``) is when the server received the batch.
    """
    unique: dict[uuid.UUID, Event] = {}
    for event in batch:
        unique.setdefault(event.id, event)
    if not unique:
        return []
    received_at = received if received is not None else now
    rows = [event_row(event, received=received_at, now=now) for event in unique.values()]
    inserted: set[uuid.UUID] = set()
    statement = _insert_events(connection.dialect.name)
    for chunk in _chunks(rows):
        inserted.update(connection.execute(statement, list(chunk)).scalars())
    new_events = [event for event in unique.values() if event.id in inserted]
    resource_rows = [row for event in new_events for row in event_resource_rows(event, now=now)]
    for chunk in _chunks(resource_rows):
        _INSERT_RESOURCES.execute(connection, chunk)
    record_task_run_events(connection, new_events, now=now)
    return new_events


def _within_limits(event: Mapping[str, Any]) -> bool:
    """True when ``event`` passes the limits :class:`Event` checks on its sizes."""
    related: Sequence[Mapping[str, str]] = event["related"]
    return (
        len(event["event"]) <= MAXIMUM_EVENT_NAME_LENGTH
        and len(related) <= MAXIMUM_RELATED_RESOURCES
        and len(event["resource"]) <= MAXIMUM_LABELS_PER_RESOURCE
        and all(len(labels) <= MAXIMUM_LABELS_PER_RESOURCE for labels in related)
    )


def check_server_event(event: Mapping[str, Any]) -> None:
    """Raise what :func:`record_server_event` would raise for ``event``, or nothing.

    Only an event over one of :class:`Event`'s size limits can fail, as it would there.
    """
    if not _within_limits(event):
        Event.model_validate(event)


def record_server_event(
    connection: Connection, event: Mapping[str, Any], *, now: dt.datetime
) -> None:
    """Store an event the server built from its own rows (received and recorded ``now``).

    ``event`` is JSON-ready data, as :func:`..events.flow_run_state_event` returns it: every
    label a non-empty-keyed string, the resource ids and related roles set. Such an event
    needs none of what validating it as an :class:`Event` does (turning label values into
    strings, checking ids and roles), so its rows are written straight from the data: the
    same rows :func:`record_events` would write, for about half the time. An event over one
    of :class:`Event`'s size limits takes the validating path, and fails as it would there.
    The server's events are never task-run events: the task-run recorder has nothing to do.
    """
    if not _within_limits(event):
        record_events(connection, [Event.model_validate(event)], now=now)
        return
    event_id = uuid.UUID(event["id"])
    occurred = dt.datetime.fromisoformat(event["occurred"]).astimezone(dt.UTC)
    resource: Mapping[str, str] = event["resource"]
    related: Sequence[Mapping[str, str]] = event["related"]
    follows = event["follows"]
    row = _event_row(
        event_id=event_id,
        occurred=occurred,
        name=event["event"],
        resource=resource,
        related=related,
        payload=event["payload"],
        follows=uuid.UUID(follows) if follows is not None else None,
        received=now,
        now=now,
    )
    if _insert_event(connection.dialect.name).execute(connection, row) == 0:
        return  # stored already: its resources were stored with it
    resource_rows = _resource_rows(
        event_id=event_id, occurred=occurred, resource=resource, related=related, now=now
    )
    _INSERT_RESOURCES.execute(connection, resource_rows)
