"""/flow_runs and /flow_run_states on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

MISSING = str(uuid.UUID(int=0))
HEADERS = {"X-PREFECT-API-VERSION": "0.8.4"}


@pytest.fixture
async def flow(prefect_trio_client: httpx.AsyncClient) -> dict[str, Any]:
    response = await prefect_trio_client.post("/flows/", json={"name": "the-flow"})
    body: dict[str, Any] = response.json()
    return body


async def create_run(
    client: httpx.AsyncClient, flow: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    response = await client.post("/flow_runs/", json={"flow_id": flow["id"], **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def propose(
    client: httpx.AsyncClient, run_id: str, state_type: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/flow_runs/{run_id}/set_state",
        json={"state": {"type": state_type, **extra.pop("state", {})}, **extra},
        headers=HEADERS,
    )


async def test_create_starts_pending_with_labels(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    run = await create_run(prefect_trio_client, flow, parameters={"x": 1}, tags=["t"])
    assert run["state"]["type"] == "PENDING"
    assert run["state_type"] == "PENDING"
    assert run["state_id"] == run["state"]["id"]
    assert run["labels"]["prefect.flow.id"] == flow["id"]
    assert run["parameters"] == {"x": 1}
    assert run["name"]  # a generated name
    assert {"id", "created", "updated", "estimated_run_time"} <= set(run)


async def test_create_in_a_given_state(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    run = await create_run(
        prefect_trio_client,
        flow,
        state={"type": "SCHEDULED", "state_details": {"scheduled_time": later}},
    )
    assert run["state"]["type"] == "SCHEDULED"
    assert run["next_scheduled_start_time"] is not None
    assert run["expected_start_time"] is not None


async def test_idempotency_key_returns_the_same_run(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    first = await create_run(prefect_trio_client, flow, idempotency_key="once")
    again = await prefect_trio_client.post(
        "/flow_runs/", json={"flow_id": flow["id"], "idempotency_key": "once"}
    )
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]


async def test_lifecycle_with_a_retry(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    run = await create_run(
        prefect_trio_client, flow, empirical_policy={"retries": 1, "retry_delay": 0}
    )
    seen = []
    for state_type in ("RUNNING", "FAILED", "PENDING", "RUNNING", "COMPLETED"):
        response = await propose(prefect_trio_client, run["id"], state_type)
        body = response.json()
        seen.append((response.status_code, body["status"], body["state"]["name"]))
    assert seen == [
        (201, "ACCEPT", "Running"),
        (201, "REJECT", "AwaitingRetry"),
        (201, "ACCEPT", "Pending"),
        (201, "ACCEPT", "Running"),
        (201, "ACCEPT", "Completed"),
    ]
    final = (await prefect_trio_client.get(f"/flow_runs/{run['id']}")).json()
    assert final["state_type"] == "COMPLETED"
    assert final["run_count"] == 2
    assert final["start_time"] is not None
    assert final["end_time"] is not None
    assert final["total_run_time"] >= 0
    history = await prefect_trio_client.get("/flow_run_states/", params={"flow_run_id": run["id"]})
    assert [state["name"] for state in history.json()] == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Pending",
        "Running",
        "Completed",
    ]
    one = history.json()[-1]
    assert (await prefect_trio_client.get(f"/flow_run_states/{one['id']}")).json() == one


async def test_duplicate_claim_is_aborted_and_nothing_written(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    run = await create_run(prefect_trio_client, flow)
    response = await propose(prefect_trio_client, run["id"], "PENDING")
    assert response.status_code == 200
    assert response.json()["status"] == "ABORT"
    assert response.json()["details"]["type"] == "abort_details"
    history = await prefect_trio_client.get("/flow_run_states/", params={"flow_run_id": run["id"]})
    assert len(history.json()) == 1


async def test_wait_until_the_scheduled_time(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=300)).isoformat()
    run = await create_run(
        prefect_trio_client,
        flow,
        state={"type": "SCHEDULED", "state_details": {"scheduled_time": later}},
    )
    response = await propose(prefect_trio_client, run["id"], "RUNNING")
    body = response.json()
    assert (response.status_code, body["status"]) == (200, "WAIT")
    assert 200 < body["details"]["delay_seconds"] <= 300
    forced = await propose(prefect_trio_client, run["id"], "RUNNING", force=True)
    assert forced.json()["status"] == "ACCEPT"


async def test_repeated_transition_id_is_rejected(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    run = await create_run(prefect_trio_client, flow)
    transition = str(uuid.uuid4())
    details = {"state": {"state_details": {"transition_id": transition}}}
    first = await propose(prefect_trio_client, run["id"], "RUNNING", **details)
    assert first.json()["status"] == "ACCEPT"
    again = await propose(prefect_trio_client, run["id"], "RUNNING", **details)
    assert again.json()["status"] == "REJECT"
    assert again.json()["state"]["id"] == first.json()["state"]["id"]


async def test_update_labels_filter_count_delete(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    run = await create_run(prefect_trio_client, flow, tags=["a"])
    other = await create_run(prefect_trio_client, flow)
    await propose(prefect_trio_client, other["id"], "RUNNING")
    patched = await prefect_trio_client.patch(
        f"/flow_runs/{run['id']}", json={"name": "renamed", "infrastructure_pid": "123"}
    )
    assert patched.status_code == 204
    labels = await prefect_trio_client.patch(
        f"/flow_runs/{run['id']}/labels", json={"team": "data"}
    )
    assert labels.status_code == 204
    shown = (await prefect_trio_client.get(f"/flow_runs/{run['id']}")).json()
    assert shown["name"] == "renamed"
    assert shown["infrastructure_pid"] == "123"
    assert shown["labels"] == {"prefect.flow.id": flow["id"], "team": "data"}

    running = await prefect_trio_client.post(
        "/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}
    )
    assert [r["id"] for r in running.json()] == [other["id"]]
    by_flow = await prefect_trio_client.post(
        "/flow_runs/count", json={"flows": {"name": {"any_": ["the-flow"]}}}
    )
    assert by_flow.json() == 2
    page = await prefect_trio_client.post("/flow_runs/paginate", json={"limit": 1})
    assert (page.json()["count"], page.json()["pages"]) == (2, 2)

    assert (await prefect_trio_client.delete(f"/flow_runs/{run['id']}")).status_code == 204
    assert (await prefect_trio_client.get(f"/flow_runs/{run['id']}")).status_code == 404
    # Deleting the flow deletes its runs.
    assert (await prefect_trio_client.delete(f"/flows/{flow['id']}")).status_code == 204
    assert (await prefect_trio_client.post("/flow_runs/count")).json() == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/flow_runs/{MISSING}", None),
        ("PATCH", f"/flow_runs/{MISSING}", {"name": "x"}),
        ("PATCH", f"/flow_runs/{MISSING}/labels", {"a": "b"}),
        ("DELETE", f"/flow_runs/{MISSING}", None),
        ("POST", f"/flow_runs/{MISSING}/set_state", {"state": {"type": "RUNNING"}}),
        ("GET", f"/flow_run_states/{MISSING}", None),
        ("POST", "/flow_runs/", {"flow_id": MISSING}),
    ],
)
async def test_unknown_ids_are_404(
    prefect_trio_client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await prefect_trio_client.request(method, path, json=body)
    assert response.status_code == 404, response.text
    assert "exception_message" in response.json()


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/flow_runs/", {"parameters": {}}, ["body", "flow_id"]),
        ("/flow_runs/", {"flow_id": "nope"}, ["body", "flow_id"]),
        ("/flow_runs/filter", {"sort": "WRONG"}, ["body", "sort"]),
        ("/flow_runs/filter", {"limit": 100_000}, ["body", "limit"]),
    ],
)
async def test_bad_input_is_422(
    prefect_trio_client: httpx.AsyncClient, path: str, body: Any, loc: list[str]
) -> None:
    response = await prefect_trio_client.post(path, json=body)
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"][: len(loc)] == loc


async def test_invalid_state_type_is_422_and_nothing_written(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    run = await create_run(prefect_trio_client, flow)
    response = await propose(prefect_trio_client, run["id"], "EXPLODED")
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"][:3] == ["body", "state", "type"]
    history = await prefect_trio_client.get("/flow_run_states/", params={"flow_run_id": run["id"]})
    assert len(history.json()) == 1


async def test_transitions_are_recorded_as_events(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any], prefect_trio_app: Any
) -> None:
    from sqlalchemy import select

    from prefect_trio_server.database.tables import events
    from prefect_trio_server.events.persister import move_staged

    run = await create_run(prefect_trio_client, flow)
    await propose(prefect_trio_client, run["id"], "RUNNING")
    await propose(prefect_trio_client, run["id"], "PENDING")  # aborted: no event
    database = prefect_trio_app.state.api_app.state.database
    await move_staged(database)  # what the persister does shortly after, in the background
    rows = await database.read(
        lambda c: c.execute(
            select(events.c.event, events.c.resource_id).order_by(events.c.occurred)
        ).all()
    )
    assert [row.event for row in rows] == ["prefect.flow-run.Pending", "prefect.flow-run.Running"]
    assert {row.resource_id for row in rows} == {f"prefect.flow-run.{run['id']}"}


async def test_a_change_whose_event_cannot_be_stored_is_refused_whole(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    # Each tag is a related resource of the state-change event, which holds at most 100.
    tags = [f"t{i}" for i in range(150)]
    refused = await prefect_trio_client.post(
        "/flow_runs/", json={"flow_id": flow["id"], "tags": tags, "state": {"type": "SCHEDULED"}}
    )
    assert refused.status_code == 422, refused.text
    assert "related resources is 100" in refused.json()["detail"]
    assert "tag" in refused.json()["detail"]
    listed = await prefect_trio_client.post("/flow_runs/filter", json={})
    assert listed.json() == []  # no run without its state, no state without its run

    run = await create_run(prefect_trio_client, flow, state={"type": "SCHEDULED"})
    patched = await prefect_trio_client.patch(f"/flow_runs/{run['id']}", json={"tags": tags})
    assert patched.status_code == 204, patched.text
    response = await propose(prefect_trio_client, run["id"], "RUNNING")
    assert response.status_code == 422, response.text
    again = await prefect_trio_client.get(f"/flow_runs/{run['id']}")
    assert again.json()["state"]["type"] == "SCHEDULED"
    history = await prefect_trio_client.get("/flow_run_states/", params={"flow_run_id": run["id"]})
    assert [state["type"] for state in history.json()] == ["SCHEDULED"]


async def test_events_are_read_when_staged_ones_cannot_be_moved(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any], prefect_trio_app: Any
) -> None:
    from sqlalchemy import text

    from prefect_trio_server.events.persister import move_staged

    database = prefect_trio_app.state.api_app.state.database
    run = await create_run(prefect_trio_client, flow)
    await propose(prefect_trio_client, run["id"], "PENDING")
    await move_staged(database)
    await propose(prefect_trio_client, run["id"], "RUNNING")  # staged; its move will fail
    await database.write(lambda c: c.execute(text("ALTER TABLE event_resources RENAME TO held")))
    try:
        response = await prefect_trio_client.post("/events/filter", json={"limit": 50})
    finally:
        await database.write(
            lambda c: c.execute(text("ALTER TABLE held RENAME TO event_resources"))
        )
    assert response.status_code == 200, response.text
    assert [e["event"] for e in response.json()["events"]] == ["prefect.flow-run.Pending"]
    after = await prefect_trio_client.post("/events/filter", json={"limit": 50})
    assert sorted(e["event"] for e in after.json()["events"]) == [
        "prefect.flow-run.Pending",
        "prefect.flow-run.Running",
    ]


async def test_a_client_reads_the_events_of_its_own_transitions(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    # Staged with the state; the events read moves what is staged before it reads.
    run = await create_run(prefect_trio_client, flow)
    await propose(prefect_trio_client, run["id"], "RUNNING")
    for _ in range(2):
        response = await prefect_trio_client.post(
            "/events/filter",
            json={"filter": {"resource": {"id": [f"prefect.flow-run.{run['id']}"]}}},
        )
        assert response.status_code == 200, response.text
        names = [event["event"] for event in response.json()["events"]]
        assert names == ["prefect.flow-run.Running", "prefect.flow-run.Pending"]


async def test_a_subflow_state_is_mirrored_onto_its_tracking_task_run(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    parent = await create_run(prefect_trio_client, flow)
    await propose(prefect_trio_client, parent["id"], "RUNNING")
    tracker = await prefect_trio_client.post(
        "/task_runs/",
        json={
            "flow_run_id": parent["id"],
            "task_key": "child",
            "dynamic_key": "0",
            "name": "child-tracker",
        },
    )
    assert tracker.status_code == 201, tracker.text
    child = await create_run(prefect_trio_client, flow, parent_task_run_id=tracker.json()["id"])
    await propose(prefect_trio_client, child["id"], "RUNNING")
    await propose(prefect_trio_client, child["id"], "COMPLETED")
    task = (await prefect_trio_client.get(f"/task_runs/{tracker.json()['id']}")).json()
    assert task["state_type"] == "COMPLETED"
    assert task["state"]["state_details"]["child_flow_run_id"] == child["id"]
    states = await prefect_trio_client.get(
        "/task_run_states/", params={"task_run_id": tracker.json()["id"]}
    )
    assert [s["type"] for s in states.json()] == ["PENDING", "PENDING", "RUNNING", "COMPLETED"]
