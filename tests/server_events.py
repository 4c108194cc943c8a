"""A flow-run state event as the server builds one, and how it was stored."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, select

from prefect_trio_server.database.tables.logs_events import event_resources, events
from prefect_trio_server.events import flow_run_state_event

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


def a_state_event(tags: int = 2) -> dict[str, Any]:
    """A run paused after running, with ``tags`` tags (each a related resource)."""
    run = {"id": uuid.uuid4(), "name": "r", "run_count": 1, "tags": [f"t{i}" for i in range(tags)]}
    state = {
        "id": uuid.uuid4(),
        "type": "PAUSED",
        "name": "Paused",
        "message": "why",
        "timestamp": NOW,
        "state_details": {"pause_reschedule": True},
    }
    previous = {"id": uuid.uuid4(), "type": "RUNNING", "name": "Running", "timestamp": NOW}
    flow_row = {"id": uuid.uuid4(), "name": "f", "tags": ["z"]}
    return flow_run_state_event(run, state, previous, flow_row, now=NOW)


def stored_event(
    connection: Connection, event_id: uuid.UUID | str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The event's row and its resource rows, without their ids (by role, then resource)."""
    key = uuid.UUID(str(event_id))
    row = dict(connection.execute(select(events).where(events.c.id == key)).mappings().one())
    statement = (
        select(event_resources)
        .where(event_resources.c.event_id == key)
        .order_by(event_resources.c.resource_role, event_resources.c.resource_id)
    )
    resources = [dict(r) for r in connection.execute(statement).mappings()]
    for resource in resources:
        resource.pop("id"), resource.pop("event_id")
    row.pop("id")
    return row, resources
