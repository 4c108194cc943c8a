"""POST /events: storage, idempotency and the task-run recorder, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select

from prefect_trio_server.database import Database
from prefect_trio_server.database.tables.logs_events import event_resources, events
from prefect_trio_server.database.tables.runs import task_run, task_run_state
from prefect_trio_server.events import flow_run_state_event
from prefect_trio_server.schemas.events import Event

T0 = dt.datetime(2026, 11, 24, 22, 37, 32, 469299, tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def task_run_event(
    *,
    task_run_id: uuid.UUID,
    flow_run_id: str,
    state_type: str,
    state_name: str,
    occurred: dt.datetime,
    follows: str | None = None,
    run_count: int = 0,
    dynamic_key: str = "0",
    extra_task_run: dict[str, Any] | None = None,
    event_id: uuid.UUID | None = None,
    state_details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A task-run state event as the Prefect 3.9 client emits it."""
    task_run_fields: dict[str, Any] = {
        "name": "add-4da",
        "task_key": "add-83a2f660",
        "dynamic_key": dynamic_key,
        "empirical_policy": {"max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0},
        "tags": ["t1"],
        "labels": {},
        "task_inputs": {"x": [], "y": []},
        "run_count": run_count,
        "flow_run_run_count": 1,
        "expected_start_time": iso(T0),
        "total_run_time": 0.0,
        **(extra_task_run or {}),
    }
    return {
        "occurred": iso(occurred),
        "event": f"prefect.task-run.{state_name}",
        "resource": {
            "prefect.resource.id": f"prefect.task-run.{task_run_id}",
            "prefect.resource.name": "add-4da",
            "prefect.run-count": str(run_count),
            "prefect.state-message": "",
            "prefect.state-name": state_name,
            "prefect.state-timestamp": occurred.isoformat(),
            "prefect.state-type": state_type,
            "prefect.orchestration": "client",
        },
        "related": [
            {
                "prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
                "prefect.resource.role": "flow-run",
                "prefect.resource.name": "aloof-mouflon",
            },
            {
                "prefect.resource.id": f"prefect.flow.{uuid.uuid4()}",
                "prefect.resource.role": "flow",
                "prefect.resource.name": "simple",
            },
            {"prefect.resource.id": "prefect.tag.t1", "prefect.resource.role": "tag"},
        ],
        "payload": {
            "intended": {"from": None, "to": state_type},
            "initial_state": None,
            "validated_state": {
                "type": state_type,
                "name": state_name,
                "message": "",
                "state_details": state_details or {},
                "data": None,
            },
            "task_run": task_run_fields,
        },
        "id": str(event_id or uuid.uuid4()),
        "follows": follows,
    }


def lifecycle(flow_run_id: str, task_run_id: uuid.UUID) -> list[dict[str, Any]]:
    """Pending, Running, Completed for one task run."""
    pending = task_run_event(
        task_run_id=task_run_id,
        flow_run_id=flow_run_id,
        state_type="PENDING",
        state_name="Pending",
        occurred=T0,
    )
    running = task_run_event(
        task_run_id=task_run_id,
        flow_run_id=flow_run_id,
        state_type="RUNNING",
        state_name="Running",
        occurred=T0 + dt.timedelta(seconds=1),
        follows=pending["id"],
        run_count=1,
        extra_task_run={"start_time": iso(T0 + dt.timedelta(seconds=1))},
    )
    completed = task_run_event(
        task_run_id=task_run_id,
        flow_run_id=flow_run_id,
        state_type="COMPLETED",
        state_name="Completed",
        occurred=T0 + dt.timedelta(seconds=3),
        follows=running["id"],
        run_count=1,
        extra_task_run={
            "start_time": iso(T0 + dt.timedelta(seconds=1)),
            "end_time": iso(T0 + dt.timedelta(seconds=3)),
            "total_run_time": 2.0,
        },
        state_details={"untrackable_result": True},
    )
    return [pending, running, completed]


def database_of(app: Any) -> Database:
    database = app.state.api_app.state.database
    assert isinstance(database, Database)
    return database


async def rows(app: Any, query: Any) -> list[dict[str, Any]]:
    def work(connection: Connection) -> list[dict[str, Any]]:
        return [dict(row) for row in connection.execute(query).mappings()]

    return await database_of(app).read(work)


async def count(app: Any, table: Any) -> int:
    """Rows in ``table``; for ``events``, those sent by clients (not the server's own
    ``prefect.flow-run.*`` events, which creating the test's flow run stores too)."""
    query = select(func.count().label("n")).select_from(table)
    server_events = select(events.c.id).where(events.c.event.like("prefect.flow-run.%"))
    if table is events:
        query = query.where(events.c.id.not_in(server_events))
    elif table is event_resources:
        query = query.where(event_resources.c.event_id.not_in(server_events))
    found = await rows(app, query)
    return int(found[0]["n"])


@pytest.fixture
async def flow_run_id(prefect_trio_client: httpx.AsyncClient) -> str:
    flow = (await prefect_trio_client.post("/flows/", json={"name": "simple"})).json()
    response = await prefect_trio_client.post("/flow_runs/", json={"flow_id": flow["id"]})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def post(client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> None:
    response = await client.post("/events", json=batch)
    assert response.status_code == 204, response.text
    assert response.content == b""


async def test_post_events_persists_and_is_idempotent(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any
) -> None:
    event = {
        "occurred": iso(T0),
        "event": "prefect.flow-run.heartbeat",
        "resource": {"prefect.resource.id": "prefect.flow-run.abc", "prefect.version": "3.9.1"},
        "related": [
            {"prefect.resource.id": "prefect.flow.x", "prefect.resource.role": "flow"},
        ],
        "payload": {"a": 1},
        "id": str(uuid.uuid4()),
        "some_future_field": "ignored",
    }
    await post(prefect_trio_client, [event])
    await post(prefect_trio_client, [event, event])  # resent, and repeated in one batch

    stored = await rows(prefect_trio_app, select(events))
    assert len(stored) == 1
    row = stored[0]
    assert str(row["id"]) == event["id"]
    assert row["occurred"] == T0
    assert row["event"] == "prefect.flow-run.heartbeat"
    assert row["resource_id"] == "prefect.flow-run.abc"
    assert row["resource"]["prefect.version"] == "3.9.1"
    assert row["related_resource_ids"] == ["prefect.flow.x"]
    assert row["payload"] == {"a": 1}
    assert row["follows"] is None
    assert row["received"] is not None

    resources = await rows(prefect_trio_app, select(event_resources))
    assert sorted((r["resource_id"], r["resource_role"]) for r in resources) == [
        ("prefect.flow-run.abc", ""),
        ("prefect.flow.x", "flow"),
    ]
    by_role = {r["resource_role"]: r for r in resources}
    assert by_role[""]["resource"] == {"prefect.version": "3.9.1"}
    assert {str(r["event_id"]) for r in resources} == {event["id"]}


@pytest.mark.parametrize(
    "bad",
    [
        {"event": "x", "resource": {}, "id": str(uuid.uuid4()), "occurred": iso(T0)},
        {
            "event": "x",
            "resource": {"prefect.resource.id": "a"},
            "related": [{"prefect.resource.id": "b"}],
            "id": str(uuid.uuid4()),
            "occurred": iso(T0),
        },
        {"event": "x", "resource": {"prefect.resource.id": "a"}, "occurred": iso(T0)},
        {"event": "x" * 1025, "resource": {"prefect.resource.id": "a"}, "id": str(uuid.uuid4()),
         "occurred": iso(T0)},
    ],
)  # fmt: skip
async def test_post_invalid_events_is_422(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any, bad: dict[str, Any]
) -> None:
    response = await prefect_trio_client.post("/events", json=[bad])
    assert response.status_code == 422
    assert await count(prefect_trio_app, events) == 0


async def test_label_values_are_strings(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any
) -> None:
    event_id = str(uuid.uuid4())
    resource = {"prefect.resource.id": "r", "n": 3, "flag": True}
    event = {"event": "e", "resource": resource, "id": event_id, "occurred": iso(T0)}
    await post(prefect_trio_client, [event])
    stored = await rows(prefect_trio_app, select(events.c.resource))
    assert stored[0]["resource"] == {"prefect.resource.id": "r", "n": "3", "flag": "true"}


async def test_task_run_lifecycle_is_recorded(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any, flow_run_id: str
) -> None:
    task_run_id = uuid.uuid4()
    sequence = lifecycle(flow_run_id, task_run_id)
    for event in sequence:
        await post(prefect_trio_client, [event])

    runs = await rows(prefect_trio_app, select(task_run))
    assert len(runs) == 1
    run = runs[0]
    assert run["id"] == task_run_id
    assert str(run["flow_run_id"]) == flow_run_id
    assert (run["name"], run["task_key"], run["dynamic_key"]) == ("add-4da", "add-83a2f660", "0")
    assert (run["state_type"], run["state_name"]) == ("COMPLETED", "Completed")
    assert str(run["state_id"]) == sequence[-1]["id"]
    assert run["state_timestamp"] == T0 + dt.timedelta(seconds=3)
    assert run["run_count"] == 1
    assert run["flow_run_run_count"] == 1
    assert run["start_time"] == T0 + dt.timedelta(seconds=1)
    assert run["end_time"] == T0 + dt.timedelta(seconds=3)
    assert run["total_run_time"] == 2.0
    assert run["expected_start_time"] == T0
    assert run["tags"] == ["t1"]
    assert run["task_inputs"] == {"x": [], "y": []}

    states = await rows(
        prefect_trio_app, select(task_run_state).order_by(task_run_state.c.timestamp)
    )
    assert [s["type"] for s in states] == ["PENDING", "RUNNING", "COMPLETED"]
    assert [str(s["id"]) for s in states] == [e["id"] for e in sequence]
    assert {s["task_run_id"] for s in states} == {task_run_id}
    completed = states[-1]
    assert completed["timestamp"] == T0 + dt.timedelta(seconds=3)
    assert completed["state_details"]["task_run_id"] == str(task_run_id)
    assert completed["state_details"]["flow_run_id"] == flow_run_id
    assert completed["state_details"]["untrackable_result"] is True

    # All three are stored as events too.
    assert await count(prefect_trio_app, events) == 3


async def test_out_of_order_events_do_not_move_the_run_backwards(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any, flow_run_id: str
) -> None:
    task_run_id = uuid.uuid4()
    pending, running, completed = lifecycle(flow_run_id, task_run_id)
    await post(prefect_trio_client, [completed])
    await post(prefect_trio_client, [running, pending])  # late, in reverse

    [run] = await rows(prefect_trio_app, select(task_run))
    assert run["state_type"] == "COMPLETED"
    assert str(run["state_id"]) == completed["id"]
    assert run["end_time"] == T0 + dt.timedelta(seconds=3)
    assert run["total_run_time"] == 2.0
    # Each state is still part of the history.
    assert await count(prefect_trio_app, task_run_state) == 3


async def test_one_batch_in_any_order_and_resent(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any, flow_run_id: str
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    batch = [
        *lifecycle(flow_run_id, first),
        *[
            {**event, "payload": {**event["payload"], "task_run": {
                **event["payload"]["task_run"], "dynamic_key": "1"}}}
            for event in lifecycle(flow_run_id, second)
        ],
    ]  # fmt: skip
    batch = [batch[2], batch[0], batch[4], batch[1], batch[5], batch[3]]
    await post(prefect_trio_client, batch)
    await post(prefect_trio_client, batch)  # a client re-sending what it could not confirm

    runs = await rows(prefect_trio_app, select(task_run).order_by(task_run.c.dynamic_key))
    assert [(r["id"], r["state_type"]) for r in runs] == [
        (first, "COMPLETED"),
        (second, "COMPLETED"),
    ]
    assert await count(prefect_trio_app, task_run_state) == 6
    assert await count(prefect_trio_app, events) == 6
    assert await count(prefect_trio_app, event_resources) == 6 * 4


async def test_natural_key_wins_over_a_new_id(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any, flow_run_id: str
) -> None:
    original, other = uuid.uuid4(), uuid.uuid4()
    pending, _running, completed = lifecycle(flow_run_id, original)
    await post(prefect_trio_client, [pending])
    # Same (flow_run_id, task_key, dynamic_key), another task run id.
    moved = {**completed, "resource": {**completed["resource"],
             "prefect.resource.id": f"prefect.task-run.{other}"}}  # fmt: skip
    await post(prefect_trio_client, [moved])

    [run] = await rows(prefect_trio_app, select(task_run))
    assert run["id"] == original
    assert run["state_type"] == "COMPLETED"
    states = await rows(prefect_trio_app, select(task_run_state))
    assert {s["task_run_id"] for s in states} == {original}


async def test_events_the_recorder_ignores_are_still_stored(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any, flow_run_id: str
) -> None:
    server_side = task_run_event(
        task_run_id=uuid.uuid4(),
        flow_run_id=flow_run_id,
        state_type="PENDING",
        state_name="Pending",
        occurred=T0,
    )
    del server_side["resource"]["prefect.orchestration"]
    unknown_flow_run = task_run_event(
        task_run_id=uuid.uuid4(),
        flow_run_id=str(uuid.uuid4()),
        state_type="PENDING",
        state_name="Pending",
        occurred=T0,
    )
    bad_state = task_run_event(
        task_run_id=uuid.uuid4(),
        flow_run_id=flow_run_id,
        state_type="NOPE",
        state_name="Nope",
        occurred=T0,
    )
    good = task_run_event(
        task_run_id=uuid.uuid4(),
        flow_run_id=flow_run_id,
        state_type="PENDING",
        state_name="Pending",
        occurred=T0,
        dynamic_key="good",
    )
    await post(prefect_trio_client, [server_side, unknown_flow_run, bad_state, good])

    assert await count(prefect_trio_app, events) == 4
    [run] = await rows(prefect_trio_app, select(task_run))
    assert run["dynamic_key"] == "good"


async def test_task_run_without_a_flow_run(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any
) -> None:
    task_run_id = uuid.uuid4()
    event = task_run_event(
        task_run_id=task_run_id,
        flow_run_id="unused",
        state_type="SCHEDULED",
        state_name="Scheduled",
        occurred=T0,
    )
    event["related"] = []
    await post(prefect_trio_client, [event])
    [run] = await rows(prefect_trio_app, select(task_run))
    assert (run["id"], run["flow_run_id"], run["state_type"]) == (task_run_id, None, "SCHEDULED")


# -- flow_run_state_event: a pure function -------------------------------------------------


def test_flow_run_state_event_shape() -> None:
    run_id, flow_id, previous_id, state_id = (uuid.uuid4() for _ in range(4))
    deployment_id, creator_id = uuid.uuid4(), uuid.uuid4()
    run = {
        "id": run_id,
        "name": "aloof-mouflon",
        "run_count": 1,
        "tags": ["b", "a"],
        "created_by": {"id": str(creator_id), "type": "DEPLOYMENT", "display_value": "dep"},
    }
    state = {
        "id": state_id,
        "type": "RUNNING",
        "name": "Running",
        "timestamp": T0 + dt.timedelta(seconds=2),
        "message": None,
        "state_details": {},
    }
    previous = {
        "id": previous_id,
        "type": "PENDING",
        "name": "Pending",
        "timestamp": T0,
        "message": "queued",
        "state_details": {},
    }
    flow = {"id": flow_id, "name": "simple", "tags": ["a", "c"]}
    deployment = {"id": deployment_id, "name": "dep", "tags": []}
    pool = {"id": uuid.uuid4(), "name": "p", "type": "process"}

    event = flow_run_state_event(
        run, state, previous, flow, now=T0, deployment_row=deployment, work_pool_row=pool
    )
    assert event["id"] == str(state_id)
    assert event["event"] == "prefect.flow-run.Running"
    assert event["occurred"] == (T0 + dt.timedelta(seconds=2)).isoformat()
    assert event["follows"] == str(previous_id)
    assert event["resource"] == {
        "prefect.resource.id": f"prefect.flow-run.{run_id}",
        "prefect.resource.name": "aloof-mouflon",
        "prefect.run-count": "1",
        "prefect.state-message": "",
        "prefect.state-name": "Running",
        "prefect.state-timestamp": (T0 + dt.timedelta(seconds=2)).isoformat(),
        "prefect.state-type": "RUNNING",
    }
    assert event["related"] == [
        {
            "prefect.resource.id": f"prefect.flow.{flow_id}",
            "prefect.resource.role": "flow",
            "prefect.resource.name": "simple",
        },
        {
            "prefect.resource.id": f"prefect.deployment.{deployment_id}",
            "prefect.resource.role": "deployment",
            "prefect.resource.name": "dep",
        },
        {
            "prefect.resource.id": f"prefect.work-pool.{pool['id']}",
            "prefect.resource.role": "work-pool",
            "prefect.resource.name": "p",
            "prefect.work-pool.type": "process",
        },
        {"prefect.resource.id": "prefect.tag.a", "prefect.resource.role": "tag"},
        {"prefect.resource.id": "prefect.tag.b", "prefect.resource.role": "tag"},
        {"prefect.resource.id": "prefect.tag.c", "prefect.resource.role": "tag"},
        {
            "prefect.resource.id": f"prefect.deployment.{creator_id}",
            "prefect.resource.role": "creator",
            "prefect.resource.name": "dep",
        },
    ]
    assert event["payload"] == {
        "intended": {"from": "PENDING", "to": "RUNNING"},
        "initial_state": {"type": "PENDING", "name": "Pending", "message": "queued"},
        "validated_state": {"type": "RUNNING", "name": "Running"},
    }
    # It is a valid event.
    assert Event.model_validate(event).id == state_id


def test_flow_run_state_event_first_state_and_loose_timing() -> None:
    run = {"id": uuid.uuid4(), "name": "r", "run_count": 0, "tags": []}
    state = {
        "id": uuid.uuid4(),
        "type": "PAUSED",
        "name": "Suspended",
        "timestamp": T0,
        "message": "m" * 200_001,
        "state_details": {"pause_reschedule": True},
    }
    first = flow_run_state_event(run, state, None, None, now=T0)
    assert first["follows"] is None
    assert first["related"] == []
    assert first["payload"]["intended"] == {"from": None, "to": "PAUSED"}
    assert first["payload"]["initial_state"] is None
    assert first["payload"]["validated_state"]["pause_reschedule"] == "true"
    assert len(first["resource"]["prefect.state-message"]) < 100_100

    long_ago = {"id": uuid.uuid4(), "type": "SCHEDULED", "name": "Scheduled",
                "timestamp": T0 - dt.timedelta(hours=1), "message": None}  # fmt: skip
    later = flow_run_state_event(run, state, long_ago, None, now=T0)
    assert later["follows"] is None
    assert later["payload"]["intended"] == {"from": "SCHEDULED", "to": "PAUSED"}
