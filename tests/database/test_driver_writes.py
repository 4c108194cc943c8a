"""Writes on SQLite's driver store what SQLAlchemy stores; server events what ``Event`` stores."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from prefect_trio_server.database import Database
from prefect_trio_server.database.driver_writes import DriverWrite
from prefect_trio_server.database.tables import flow, flow_run, flow_run_state
from prefect_trio_server.models.events import record_events, record_server_event
from prefect_trio_server.schemas.events import MAXIMUM_RELATED_RESOURCES, Event
from server_events import NOW, a_state_event, stored_event


def _a_flow_run(connection: Connection) -> uuid.UUID:
    flow_id, run_id = uuid.uuid4(), uuid.uuid4()
    connection.execute(flow.insert(), {"id": flow_id, "name": "f", "created": NOW, "updated": NOW})
    connection.execute(
        flow_run.insert(),
        {"id": run_id, "flow_id": flow_id, "name": "r", "created": NOW, "updated": NOW},
    )
    return run_id


def _state(run_id: uuid.UUID, seconds: int) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "created": NOW,
        "updated": NOW,
        "flow_run_id": run_id,
        "type": "RUNNING",
        "name": "Running",
        "timestamp": NOW + dt.timedelta(seconds=seconds),
        "message": None,
        "state_details": {"flow_run_id": str(run_id), "n": [1.5, None]},
        "data": None,
    }


def _stored_state(connection: Connection, state_id: uuid.UUID) -> dict[str, Any]:
    statement = select(flow_run_state).where(flow_run_state.c.id == state_id)
    return dict(connection.execute(statement).mappings().one())


async def test_a_driver_insert_stores_what_sqlalchemy_stores(database: Database) -> None:
    write = DriverWrite(flow_run_state.insert())

    def work(connection: Connection) -> None:
        run_id = _a_flow_run(connection)
        by_sqlalchemy, by_driver = _state(run_id, 1), _state(run_id, 2)
        connection.execute(flow_run_state.insert(), by_sqlalchemy)
        assert write.execute(connection, by_driver) == 1
        stored = _stored_state(connection, by_sqlalchemy["id"])
        stored_by_driver = _stored_state(connection, by_driver["id"])
        for row in (stored, stored_by_driver):
            row.pop("id"), row.pop("timestamp")
        assert stored_by_driver == stored
        raw = connection.exec_driver_sql("SELECT data, state_details FROM flow_run_state")
        first, second = raw.all()
        assert first == second  # on SQLite, the same text in the JSON columns

    await database.write(work)


async def test_a_driver_update_and_executemany(database: Database) -> None:
    update = DriverWrite(flow_run.update().where(flow_run.c.id == flow_run.c.id))
    insert = DriverWrite(flow_run_state.insert())

    def work(connection: Connection) -> None:
        run_id = _a_flow_run(connection)
        assert insert.execute(connection, [_state(run_id, 1), _state(run_id, 2)]) == 2
        later = NOW + dt.timedelta(hours=1)
        assert update.execute(connection, {"updated": later, "tags": ["a"]}) == 1
        run = connection.execute(select(flow_run)).mappings().one()
        assert (run["updated"], run["tags"]) == (later, ["a"])

    await database.write(work)


async def test_a_driver_write_fails_as_sqlalchemy_does(database: Database) -> None:
    insert = DriverWrite(flow_run_state.insert())

    def work(connection: Connection) -> None:
        run_id = _a_flow_run(connection)
        state = _state(run_id, 1)
        insert.execute(connection, state)
        insert.execute(connection, state)

    with pytest.raises(IntegrityError):
        await database.write(work)


async def test_columns_left_to_defaults_go_through_sqlalchemy(database: Database) -> None:
    # ``flow_run`` fills several columns from Python-side defaults.
    insert = DriverWrite(flow_run.insert())

    def work(connection: Connection) -> dict[str, Any]:
        flow_id = uuid.uuid4()
        connection.execute(flow.insert(), {"id": flow_id, "name": "f"})
        insert.execute(connection, {"id": uuid.uuid4(), "flow_id": flow_id, "name": "r"})
        return dict(connection.execute(select(flow_run)).mappings().one())

    run = await database.write(work)
    assert run["tags"] == []
    assert run["created"] is not None


async def test_a_server_event_is_stored_as_the_validated_event(database: Database) -> None:
    event = a_state_event(tags=3)
    validated = Event.model_validate({**event, "id": str(uuid.uuid4())})

    def work(connection: Connection) -> None:
        record_server_event(connection, event, now=NOW)
        record_server_event(connection, event, now=NOW + dt.timedelta(seconds=1))  # no-op
        record_events(connection, [validated], now=NOW)
        by_rows, resources = stored_event(connection, uuid.UUID(event["id"]))
        by_model, model_resources = stored_event(connection, validated.id)
        assert by_rows == by_model
        assert resources == model_resources
        assert len(resources) == 1 + len(event["related"])

    await database.write(work)


async def test_a_server_event_over_the_limits_fails_as_before(database: Database) -> None:
    event = a_state_event(tags=MAXIMUM_RELATED_RESOURCES)

    with pytest.raises(ValueError, match="related resources"):
        await database.write(lambda connection: record_server_event(connection, event, now=NOW))
