"""Server events staged in the outbox, and moved to the events tables by the persister."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
import trio
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from polling import wait_until_async
from prefect_trio_server.database import Database
from prefect_trio_server.database.tables.logs_events import event_outbox, event_resources, events
from prefect_trio_server.errors import InvalidRequestError
from prefect_trio_server.events.persister import move_staged, run_persister
from prefect_trio_server.models.event_outbox import move_staged_events, stage_server_event
from prefect_trio_server.models.events import record_server_event
from prefect_trio_server.schemas.events import MAXIMUM_RELATED_RESOURCES
from server_events import NOW, a_state_event, stored_event


def _count(connection: Connection, table: Any) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


async def _stage_all(database: Database, staged: list[dict[str, Any]]) -> None:
    """Stage ``staged`` in one write transaction, in order."""

    def stage(connection: Connection) -> None:
        for event in staged:
            stage_server_event(connection, event, now=NOW)

    await database.write(stage)


async def test_a_staged_event_is_stored_as_if_recorded_directly(database: Database) -> None:
    staged = a_state_event()
    direct = {**staged, "id": str(uuid.uuid4())}

    def stage(connection: Connection) -> None:
        stage_server_event(connection, staged, now=NOW)
        assert (_count(connection, event_outbox), _count(connection, events)) == (1, 0)

    await database.write(stage)
    assert await database.write(move_staged_events) == 1

    def compare(connection: Connection) -> None:
        assert _count(connection, event_outbox) == 0
        record_server_event(connection, direct, now=NOW)
        moved_row, moved_resources = stored_event(connection, staged["id"])
        direct_row, direct_resources = stored_event(connection, direct["id"])
        assert moved_row == direct_row
        assert moved_row["received"] == NOW
        assert moved_resources == direct_resources
        assert len(moved_resources) == 1 + len(staged["related"])

    await database.write(compare)


async def test_moved_in_batches_oldest_first(database: Database) -> None:
    staged = [a_state_event() for _ in range(5)]
    await _stage_all(database, staged)
    moved = [await database.write(lambda c: move_staged_events(c, limit=2)) for _ in range(4)]
    assert moved == [2, 2, 1, 0]

    def stored_ids(connection: Connection) -> list[str]:
        rows = connection.execute(select(events.c.id).order_by(events.c.recorded, events.c.id))
        return sorted(str(row.id) for row in rows)

    assert await database.read(stored_ids) == sorted(event["id"] for event in staged)


async def test_a_rolled_back_change_stages_nothing(database: Database) -> None:
    class Boom(Exception):
        pass

    def failing_change(connection: Connection) -> None:
        stage_server_event(connection, a_state_event(), now=NOW)
        raise Boom

    with pytest.raises(Boom):
        await database.write(failing_change)
    assert await database.read(lambda c: _count(c, event_outbox)) == 0
    assert not database.events_staged.is_set()


async def test_an_event_that_cannot_be_stored_fails_its_change(database: Database) -> None:
    event = a_state_event()
    event["related"] = [
        {"prefect.resource.id": f"r.{i}", "prefect.resource.role": "tag"}
        for i in range(MAXIMUM_RELATED_RESOURCES + 1)
    ]
    with pytest.raises(InvalidRequestError, match="maximum number of related resources is 100"):
        await database.write(lambda c: stage_server_event(c, event, now=NOW))
    assert await database.read(lambda c: _count(c, event_outbox)) == 0


async def test_only_writes_that_stage_wake_the_persister(database: Database) -> None:
    await database.write(lambda c: _count(c, events))
    assert not database.events_staged.is_set()
    await database.write(lambda c: stage_server_event(c, a_state_event(), now=NOW))
    assert database.events_staged.is_set()


async def test_move_staged_moves_everything(database: Database) -> None:
    assert await move_staged(database) == 0
    await _stage_all(database, [a_state_event(tags=0) for _ in range(1203)])  # > 2 batches
    assert await move_staged(database) == 1203
    assert await database.read(lambda c: (_count(c, event_outbox), _count(c, events))) == (0, 1203)


async def test_movers_at_once_store_each_event_once(database: Database) -> None:
    await _stage_all(database, [a_state_event(tags=0) for _ in range(1500)])
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(move_staged, database)
    assert await database.read(lambda c: (_count(c, event_outbox), _count(c, events))) == (0, 1500)


async def _wait_until_moved(database: Database, expected: int) -> None:
    """Until the outbox is empty and ``expected`` events are stored (the persister's thread)."""

    async def moved() -> bool:
        counts = await database.read(lambda c: (_count(c, event_outbox), _count(c, events)))
        return counts == (0, expected)

    await wait_until_async(moved)


async def test_the_persister_moves_staged_events_soon_after(database: Database) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_persister, database)
        await database.write(lambda c: stage_server_event(c, a_state_event(), now=NOW))
        await _wait_until_moved(database, 1)
        await database.write(lambda c: stage_server_event(c, a_state_event(), now=NOW))
        await _wait_until_moved(database, 2)
        nursery.cancel_scope.cancel()


async def test_the_persister_moves_what_is_left_when_cancelled(database: Database) -> None:
    async with trio.open_nursery() as nursery:
        # Nothing would wake it within the test: only its last move can store the event.
        nursery.start_soon(lambda: run_persister(database, gather_seconds=3600, sweep_seconds=3600))
        await database.write(lambda c: stage_server_event(c, a_state_event(), now=NOW))
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert await database.read(lambda c: (_count(c, event_outbox), _count(c, events))) == (0, 1)


async def test_the_persister_moves_what_an_earlier_server_left(database: Database) -> None:
    await database.write(lambda c: stage_server_event(c, a_state_event(), now=NOW))
    database.events_staged = type(database.events_staged)()  # staged by "another process"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_persister, database)
        await _wait_until_moved(database, 1)
        nursery.cancel_scope.cancel()


def _stage_rows(connection: Connection, texts: list[str]) -> None:
    """Outbox rows as they are in the table: whatever text is there."""
    for event_text in texts:
        connection.execute(insert(event_outbox).values(event=event_text, received=NOW))


@pytest.mark.parametrize(
    "unstorable",
    [
        "{not json",
        '{"id": "not a uuid", "event": "prefect.flow-run.Paused"}',
        json.dumps({"id": str(uuid.uuid4()), "event": "x", "resource": {}}),
    ],
    ids=["not-json", "bad-id", "half-an-event"],
)
async def test_an_unstorable_row_is_dropped_not_left_to_block_the_rest(
    database: Database, unstorable: str, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect_trio_server.database.json_text import json_text

    before, after = a_state_event(), a_state_event()
    await database.write(
        lambda c: _stage_rows(c, [json_text(before), unstorable, json_text(after)])
    )
    with caplog.at_level(logging.ERROR, logger="prefect_trio_server.events"):
        assert await move_staged(database) == 3
    counts = await database.read(
        lambda c: (_count(c, event_outbox), _count(c, events), _count(c, event_resources))
    )
    resources = 2 * (1 + len(before["related"]))
    assert counts == (0, 2, resources)  # nothing half-written of the dropped one
    stored = await database.read(lambda c: [stored_event(c, e["id"])[0] for e in (before, after)])
    assert [row["event"] for row in stored] == [before["event"], after["event"]]
    [record] = [r for r in caplog.records if "dropped staged event" in r.getMessage()]
    assert unstorable[:20] in record.getMessage()


async def test_a_database_error_leaves_the_whole_batch_staged(database: Database) -> None:
    staged = [a_state_event() for _ in range(3)]
    await _stage_all(database, staged)
    # A real failure inside the move: the resources table is not there for a while.
    await database.write(lambda c: c.execute(text("ALTER TABLE event_resources RENAME TO held")))
    with pytest.raises((OperationalError, ProgrammingError)):
        await database.write(move_staged_events)
    assert await database.read(lambda c: (_count(c, event_outbox), _count(c, events))) == (3, 0)
    await database.write(lambda c: c.execute(text("ALTER TABLE held RENAME TO event_resources")))
    assert await move_staged(database) == 3
    assert await database.read(lambda c: (_count(c, event_outbox), _count(c, events))) == (0, 3)


async def test_the_persister_outlives_a_failed_move(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await database.write(lambda c: c.execute(text("ALTER TABLE event_resources RENAME TO held")))
    with caplog.at_level(logging.WARNING, logger="prefect_trio_server.events"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_persister(database, gather_seconds=0))
            await database.write(lambda c: stage_server_event(c, a_state_event(), now=NOW))

            async def failed_once() -> bool:
                return any("could not move" in r.getMessage() for r in caplog.records)

            await wait_until_async(failed_once)
            await database.write(
                lambda c: c.execute(text("ALTER TABLE held RENAME TO event_resources"))
            )
            # The next write that stages an event wakes it again; both are moved.
            await database.write(lambda c: stage_server_event(c, a_state_event(), now=NOW))
            await _wait_until_moved(database, 2)
            nursery.cancel_scope.cancel()
