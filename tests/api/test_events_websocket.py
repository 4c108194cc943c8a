"""/events/in over a real socket (Hypercorn, trio-websocket), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
from pydantic import SecretStr
from sqlalchemy import Connection, func, select
from trio_websocket import ConnectionClosed, open_websocket_url

from polling import wait_until_async
from prefect_trio_server.database import Database
from prefect_trio_server.database.tables.logs_events import events
from prefect_trio_server.database.tables.runs import task_run, task_run_state
from prefect_trio_server.serving.serve import serve
from prefect_trio_server.settings import Settings

T0 = dt.datetime(2026, 11, 24, 22, 37, 32, 469299, tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def lifecycle(flow_run_id: str, task_run_id: uuid.UUID) -> list[dict[str, Any]]:
    """Pending, Running, Completed task-run events, as the Prefect client sends them."""
    result = []
    for seconds, (state_type, name) in enumerate(
        [("PENDING", "Pending"), ("RUNNING", "Running"), ("COMPLETED", "Completed")]
    ):
        occurred = T0 + dt.timedelta(seconds=seconds)
        result.append(
            {
                "occurred": iso(occurred),
                "event": f"prefect.task-run.{name}",
                "resource": {
                    "prefect.resource.id": f"prefect.task-run.{task_run_id}",
                    "prefect.resource.name": "add-4da",
                    "prefect.state-name": name,
                    "prefect.state-type": state_type,
                    "prefect.orchestration": "client",
                },
                "related": [
                    {
                        "prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
                        "prefect.resource.role": "flow-run",
                    }
                ],
                "payload": {
                    "validated_state": {"type": state_type, "name": name, "state_details": {}},
                    "task_run": {
                        "name": "add-4da",
                        "task_key": "add-83a2f660",
                        "dynamic_key": "0",
                        "run_count": min(seconds, 1),
                    },
                },
                "id": str(uuid.uuid4()),
                "follows": result[-1]["id"] if result else None,
            }
        )
    return result


def heartbeat(**overrides: Any) -> dict[str, Any]:
    return {
        "occurred": iso(T0),
        "event": "prefect.flow-run.heartbeat",
        "resource": {"prefect.resource.id": f"prefect.flow-run.{uuid.uuid4()}"},
        "related": [],
        "payload": {},
        "id": str(uuid.uuid4()),
        **overrides,
    }


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[str]:
    """The server on an ephemeral port; yields its ``ws://.../api`` URL."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:

        async def run(task_status: trio.TaskStatus[list[str]]) -> None:
            await serve(settings, shutdown_trigger=shutdown.wait, task_status=task_status)

        urls: list[str] = await nursery.start(run)
        try:
            yield urls[0].replace("http", "ws", 1) + "/api"
        finally:
            shutdown.set()


@pytest.fixture
def settings(prefect_trio_settings: Settings) -> Settings:
    return prefect_trio_settings.model_copy(update={"port": 0})


@pytest.fixture
def secured(prefect_trio_settings: Settings) -> Settings:
    return prefect_trio_settings.model_copy(
        update={"port": 0, "api_auth_string": SecretStr("s3cret")}
    )


async def count_in(settings: Settings, table: Any) -> int:
    database = Database(settings)
    try:

        def work(connection: Connection) -> int:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

        return await database.read(work)
    finally:
        database.dispose()


async def wait_for(settings: Settings, table: Any, expected: int) -> None:
    """Wait (up to 20 s) until ``table`` has ``expected`` rows; fail if it has more."""
    found = 0

    async def enough() -> bool:
        nonlocal found
        found = await count_in(settings, table)
        return found >= expected

    await wait_until_async(enough)
    assert found == expected, f"{table.name}: {found} rows, expected {expected}"


async def closed_with(ws: Any) -> tuple[int, str | None]:
    """Wait for the server to close; its code and reason."""
    with trio.fail_after(10):
        while True:
            try:
                await ws.get_message()
            except ConnectionClosed as closed:
                return closed.reason.code, closed.reason.reason


async def authenticated(ws: Any, token: str | None = None) -> None:
    await ws.send_message(json.dumps({"type": "auth", "token": token}))
    with trio.fail_after(10):
        assert json.loads(await ws.get_message()) == {"type": "auth_success"}


async def test_handshake_and_events(settings: Settings) -> None:
    async with running_server(settings) as url:
        async with open_websocket_url(f"{url}/events/in", subprotocols=["prefect"]) as ws:
            assert ws.subprotocol == "prefect"
            await authenticated(ws)
            for _ in range(3):
                await ws.send_message(json.dumps(heartbeat()))
        await wait_for(settings, events, 3)


async def test_legacy_client(settings: Settings) -> None:
    async with running_server(settings) as url:
        async with open_websocket_url(f"{url}/events/in") as ws:
            assert ws.subprotocol is None
            await ws.send_message(json.dumps(heartbeat()))
            await ws.send_message(json.dumps(heartbeat()).encode())  # a binary frame
        await wait_for(settings, events, 2)


async def test_task_runs_recorded_from_the_stream(settings: Settings) -> None:
    async with running_server(settings) as url:
        http_url = url.replace("ws", "http", 1)
        async with httpx.AsyncClient(base_url=http_url) as client:
            flow = (await client.post("/flows/", json={"name": "simple"})).json()
            flow_run = (await client.post("/flow_runs/", json={"flow_id": flow["id"]})).json()
        sequence = lifecycle(flow_run["id"], uuid.uuid4())
        async with open_websocket_url(f"{url}/events/in", subprotocols=["prefect"]) as ws:
            await authenticated(ws)
            for event in [*sequence, *sequence]:  # re-sent after a "reconnect"
                await ws.send_message(json.dumps(event))
        await wait_for(settings, task_run_state, 3)
        assert await count_in(settings, task_run) == 1
        # The three task-run events, once each, beside the flow run's own Pending event
        # (staged with the run, stored by the persister shortly after).
        await wait_for(settings, events, 3 + 1)


async def test_burst_of_500_events(settings: Settings) -> None:
    burst = [heartbeat() for _ in range(500)]
    async with running_server(settings) as url:
        async with open_websocket_url(f"{url}/events/in", subprotocols=["prefect"]) as ws:
            await authenticated(ws)
            for event in burst:
                await ws.send_message(json.dumps(event))
            # The Prefect client confirms delivery with a ping.
            with trio.fail_after(10):
                await ws.ping()
        await wait_for(settings, events, 500)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", 1007),
        (json.dumps({"event": "no resource", "id": str(uuid.uuid4())}), 1003),
        (json.dumps([1, 2, 3]), 1003),
        (b"\xff\xfe", 1007),
    ],
)
async def test_garbage_closes_after_storing_what_came_before(
    settings: Settings, frame: str | bytes, code: int
) -> None:
    async with running_server(settings) as url:
        async with open_websocket_url(f"{url}/events/in", subprotocols=["prefect"]) as ws:
            await authenticated(ws)
            await ws.send_message(json.dumps(heartbeat()))
            await ws.send_message(frame)
            got_code, reason = await closed_with(ws)
        assert got_code == code
        assert reason
        await wait_for(settings, events, 1)


async def test_first_message_must_be_auth(settings: Settings) -> None:
    async with (
        running_server(settings) as url,
        open_websocket_url(f"{url}/events/in", subprotocols=["prefect"]) as ws,
    ):
        await ws.send_message(json.dumps(heartbeat()))
        assert await closed_with(ws) == (1008, "Expected 'auth' message")


@pytest.mark.parametrize(
    ("token", "reason"),
    [("wrong", "Invalid token"), (None, "Auth required but no token provided")],
)
async def test_auth_string_bad_token(secured: Settings, token: str | None, reason: str) -> None:
    async with (
        running_server(secured) as url,
        open_websocket_url(f"{url}/events/in", subprotocols=["prefect"]) as ws,
    ):
        await ws.send_message(json.dumps({"type": "auth", "token": token}))
        assert await closed_with(ws) == (1008, reason)


async def test_auth_string_good_token(secured: Settings) -> None:
    async with running_server(secured) as url:
        async with open_websocket_url(f"{url}/events/in", subprotocols=["prefect"]) as ws:
            await authenticated(ws, "s3cret")
            await ws.send_message(json.dumps(heartbeat()))
        await wait_for(secured, events, 1)


async def test_auth_string_without_subprotocol(secured: Settings) -> None:
    async with running_server(secured) as url, open_websocket_url(f"{url}/events/in") as ws:
        code, reason = await closed_with(ws)
        assert code == 1002
        assert reason is not None
        assert "subprotocol" in reason


async def test_server_shutdown_closes_cleanly(settings: Settings) -> None:
    settings = settings.model_copy(update={"graceful_timeout": 0.5})
    finished: list[tuple[int, str | None]] = []

    async def client(url: str, connected: Callable[[], None]) -> None:
        async with open_websocket_url(f"{url}/events/in", subprotocols=["prefect"]) as ws:
            await authenticated(ws)
            await ws.send_message(json.dumps(heartbeat()))
            await ws.ping()
            connected()
            finished.append(await closed_with(ws))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery, running_server(settings) as url:
            ready = trio.Event()
            nursery.start_soon(client, url, ready.set)
            await ready.wait()
            # Leaving running_server shut the server down.
    assert finished
    assert finished[0] == (1001, "server shutting down")
    await wait_for(settings, events, 1)


async def hold_every_token(limiter: Any) -> list[object]:
    """Take all of ``limiter``'s tokens (one writer on SQLite, several on PostgreSQL)."""
    borrowers = [object() for _ in range(int(limiter.total_tokens))]
    for borrower in borrowers:
        await limiter.acquire_on_behalf_of(borrower)
    return borrowers


def give_back(limiter: Any, borrowers: list[object]) -> None:
    for borrower in borrowers:
        limiter.release_on_behalf_of(borrower)


async def test_a_busy_writer_is_waited_out_not_dropped(
    prefect_trio_settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    """Events a websocket delivered are stored once the writer is free again, however long
    other writers held it (virtual time): no 1011, nothing lost."""
    import anyio

    from prefect_trio_server.api.events import STORE_PATIENCE, _write_batches
    from prefect_trio_server.database.migrate import migrate
    from prefect_trio_server.schemas.events import Event

    settings = prefect_trio_settings.model_copy(update={"database_timeout": 0.05})
    database = Database(settings)
    await trio.to_thread.run_sync(migrate, database)
    send, receive = anyio.create_memory_object_stream[Event](10)
    finished = trio.Event()

    async def writer() -> None:
        await _write_batches(database, receive)
        finished.set()

    try:
        async with trio.open_nursery() as nursery:
            # Other writers, for a long time.
            held = await hold_every_token(database.write_limiter)
            nursery.start_soon(writer)
            async with send:
                for _ in range(3):
                    await send.send(Event.model_validate(heartbeat()))
            await trio.sleep(STORE_PATIENCE / 2)  # many timed-out attempts, in virtual time
            assert not finished.is_set()
            # From here on the store runs in a thread: let virtual time wait for it.
            autojump_clock.autojump_threshold = 1.0
            give_back(database.write_limiter, held)
            with trio.fail_after(30):
                await finished.wait()
        assert await count_in(settings, events) == 3
    finally:
        database.dispose()


async def test_a_writer_busy_past_patience_gives_up(
    prefect_trio_settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    import anyio

    from prefect_trio_server.api.events import STORE_PATIENCE, _write_batches
    from prefect_trio_server.database.migrate import migrate
    from prefect_trio_server.errors import ServiceUnavailableError
    from prefect_trio_server.schemas.events import Event

    settings = prefect_trio_settings.model_copy(update={"database_timeout": 0.05})
    database = Database(settings)
    await trio.to_thread.run_sync(migrate, database)
    send, receive = anyio.create_memory_object_stream[Event](10)
    try:
        held = await hold_every_token(database.write_limiter)
        async with send:
            await send.send(Event.model_validate(heartbeat()))
        started = trio.current_time()
        failures: list[Exception] = []

        async def writer() -> None:
            try:
                await _write_batches(database, receive)
            except Exception as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer)
        assert [type(exc) for exc in failures] == [ServiceUnavailableError]
        assert trio.current_time() - started >= STORE_PATIENCE - 1.5
        give_back(database.write_limiter, held)
    finally:
        database.dispose()
