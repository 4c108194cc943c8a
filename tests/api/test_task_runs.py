"""/task_runs and /task_run_states on SQLite and PostgreSQL."""

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


async def create_flow_run(
    client: httpx.AsyncClient, flow: dict[str, Any], *, running: bool = True
) -> dict[str, Any]:
    response = await client.post("/flow_runs/", json={"flow_id": flow["id"]})
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    if running:
        moved = await client.post(
            f"/flow_runs/{run['id']}/set_state",
            json={"state": {"type": "RUNNING"}},
            headers=HEADERS,
        )
        assert moved.json()["status"] == "ACCEPT", moved.text
    return run


@pytest.fixture
async def flow_run(prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]) -> dict[str, Any]:
    return await create_flow_run(prefect_trio_client, flow)


async def create_task_run(
    client: httpx.AsyncClient, flow_run_id: str | None, task_key: str = "t-1", **fields: Any
) -> httpx.Response:
    body = {"flow_run_id": flow_run_id, "task_key": task_key, "dynamic_key": "0", **fields}
    return await client.post("/task_runs/", json=body)


async def new_task_run(
    client: httpx.AsyncClient, flow_run_id: str | None, task_key: str = "t-1", **fields: Any
) -> dict[str, Any]:
    response = await create_task_run(client, flow_run_id, task_key, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def propose(
    client: httpx.AsyncClient, run_id: str, state_type: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/task_runs/{run_id}/set_state",
        json={"state": {"type": state_type, **extra.pop("state", {})}, **extra},
        headers=HEADERS,
    )


async def states_of(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    response = await client.get("/task_run_states/", params={"task_run_id": run_id})
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def test_create_starts_pending_with_labels(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any], flow_run: dict[str, Any]
) -> None:
    run = await new_task_run(
        prefect_trio_client,
        flow_run["id"],
        tags=["t"],
        labels={"team": "data"},
        task_inputs={"x": [{"input_type": "task_run", "id": MISSING}]},
        empirical_policy={"retries": 2, "retry_delay": [1, 2]},
    )
    assert run["state"]["type"] == "PENDING"
    assert (run["state_type"], run["state_name"]) == ("PENDING", "Pending")
    assert run["state_id"] == run["state"]["id"]
    assert run["state"]["state_details"]["task_run_id"] == run["id"]
    assert run["state"]["state_details"]["flow_run_id"] == flow_run["id"]
    assert run["labels"] == {
        "team": "data",
        "prefect.flow.id": flow["id"],
        "prefect.flow-run.id": flow_run["id"],
    }
    assert run["task_inputs"] == {"x": [{"input_type": "task_run", "id": MISSING}]}
    assert run["empirical_policy"]["retries"] == 2
    assert run["expected_start_time"] is not None
    assert run["name"]
    assert {"id", "created", "updated", "estimated_run_time", "run_count"} <= set(run)
    shown = await prefect_trio_client.get(f"/task_runs/{run['id']}")
    assert shown.status_code == 200
    assert shown.json()["state"] == run["state"]


async def test_create_in_a_given_state_and_with_an_id(
    prefect_trio_client: httpx.AsyncClient, flow_run: dict[str, Any]
) -> None:
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    wanted = str(uuid.uuid4())
    run = await new_task_run(
        prefect_trio_client,
        flow_run["id"],
        id=wanted,
        state={"type": "SCHEDULED", "state_details": {"scheduled_time": later}},
    )
    assert run["id"] == wanted
    assert run["state"]["type"] == "SCHEDULED"
    assert run["next_scheduled_start_time"] is not None


async def test_upsert_on_the_natural_key(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any], flow_run: dict[str, Any]
) -> None:
    first = await new_task_run(prefect_trio_client, flow_run["id"], name="first")
    again = await create_task_run(
        prefect_trio_client, flow_run["id"], name="second", state={"type": "RUNNING"}
    )
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["name"] == "first"
    assert again.json()["state"]["type"] == "PENDING"
    assert len(await states_of(prefect_trio_client, first["id"])) == 1
    # Another dynamic key, another flow run or no flow run at all: new runs.
    other_key = await create_task_run(prefect_trio_client, flow_run["id"], dynamic_key="1")
    assert other_key.status_code == 201
    other_run = await create_flow_run(prefect_trio_client, flow)
    assert (await create_task_run(prefect_trio_client, other_run["id"])).status_code == 201
    assert (await create_task_run(prefect_trio_client, None)).status_code == 201
    assert (await create_task_run(prefect_trio_client, None)).status_code == 201
    assert (await prefect_trio_client.post("/task_runs/count")).json() == 5


async def test_lifecycle_with_a_retry(
    prefect_trio_client: httpx.AsyncClient, flow_run: dict[str, Any]
) -> None:
    run = await new_task_run(
        prefect_trio_client, flow_run["id"], empirical_policy={"retries": 1, "retry_delay": 0}
    )
    seen = []
    for state_type in ("RUNNING", "FAILED", "RUNNING", "COMPLETED"):
        response = await propose(prefect_trio_client, run["id"], state_type)
        body = response.json()
        seen.append((response.status_code, body["status"], body["state"]["name"]))
    assert seen == [
        (201, "ACCEPT", "Running"),
        (201, "REJECT", "AwaitingRetry"),
        (201, "ACCEPT", "Retrying"),
        (201, "ACCEPT", "Completed"),
    ]
    final = (await prefect_trio_client.get(f"/task_runs/{run['id']}")).json()
    assert (final["state_type"], final["state_name"]) == ("COMPLETED", "Completed")
    assert final["run_count"] == 2
    assert final["flow_run_run_count"] == 1
    assert final["start_time"] is not None
    assert final["end_time"] is not None
    assert final["total_run_time"] >= 0
    history = await states_of(prefect_trio_client, run["id"])
    assert [state["name"] for state in history] == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]
    one = history[-1]
    assert one["id"] == final["state_id"]
    assert (await prefect_trio_client.get(f"/task_run_states/{one['id']}")).json() == one


async def test_failure_without_retries_is_accepted(
    prefect_trio_client: httpx.AsyncClient, flow_run: dict[str, Any]
) -> None:
    run = await new_task_run(prefect_trio_client, flow_run["id"])
    assert (await propose(prefect_trio_client, run["id"], "RUNNING")).json()["status"] == "ACCEPT"
    failed = await propose(prefect_trio_client, run["id"], "FAILED")
    assert (failed.status_code, failed.json()["status"]) == (201, "ACCEPT")
    assert failed.json()["state"]["type"] == "FAILED"


async def test_running_while_the_flow_run_is_not_running_is_aborted(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any]
) -> None:
    pending_flow_run = await create_flow_run(prefect_trio_client, flow, running=False)
    run = await new_task_run(prefect_trio_client, pending_flow_run["id"])
    response = await propose(prefect_trio_client, run["id"], "RUNNING")
    body = response.json()
    assert (response.status_code, body["status"]) == (200, "ABORT")
    assert body["details"]["type"] == "abort_details"
    assert "enclosing flow must be running" in body["details"]["reason"]
    assert body["state"]["type"] == "PENDING"
    # Nothing was written.
    assert len(await states_of(prefect_trio_client, run["id"])) == 1
    shown = (await prefect_trio_client.get(f"/task_runs/{run['id']}")).json()
    assert (shown["state_type"], shown["run_count"], shown["start_time"]) == ("PENDING", 0, None)
    # force skips the rules.
    forced = await propose(prefect_trio_client, run["id"], "RUNNING", force=True)
    assert (forced.status_code, forced.json()["status"]) == (201, "ACCEPT")


async def test_running_while_the_flow_run_is_paused_is_rejected(
    prefect_trio_client: httpx.AsyncClient, flow_run: dict[str, Any]
) -> None:
    run = await new_task_run(prefect_trio_client, flow_run["id"])
    timeout = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    paused = await prefect_trio_client.post(
        f"/flow_runs/{flow_run['id']}/set_state",
        json={"state": {"type": "PAUSED", "state_details": {"pause_timeout": timeout}}},
        headers=HEADERS,
    )
    assert paused.json()["status"] == "ACCEPT", paused.text
    response = await propose(prefect_trio_client, run["id"], "RUNNING")
    body = response.json()
    assert (response.status_code, body["status"]) == (201, "REJECT")
    assert (body["state"]["type"], body["state"]["name"]) == ("PAUSED", "NotReady")
    assert body["state"]["state_details"]["pause_timeout"] is not None


async def test_background_task_run_without_a_flow_run(
    prefect_trio_client: httpx.AsyncClient,
) -> None:
    run = await new_task_run(prefect_trio_client, None)
    assert run["flow_run_id"] is None
    assert run["labels"] == {}
    response = await propose(prefect_trio_client, run["id"], "RUNNING")
    assert (response.status_code, response.json()["status"]) == (201, "ACCEPT")


async def test_terminal_run_cannot_be_crashed(
    prefect_trio_client: httpx.AsyncClient, flow_run: dict[str, Any]
) -> None:
    run = await new_task_run(prefect_trio_client, flow_run["id"])
    await propose(prefect_trio_client, run["id"], "RUNNING")
    await propose(prefect_trio_client, run["id"], "COMPLETED")
    response = await propose(prefect_trio_client, run["id"], "CRASHED")
    assert (response.status_code, response.json()["status"]) == (200, "ABORT")
    assert response.json()["state"]["type"] == "COMPLETED"
    assert len(await states_of(prefect_trio_client, run["id"])) == 3


async def test_filter_count_and_paginate(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any], flow_run: dict[str, Any]
) -> None:
    first = await new_task_run(prefect_trio_client, flow_run["id"], "a", name="alpha")
    second = await new_task_run(prefect_trio_client, flow_run["id"], "b", name="beta")
    await propose(prefect_trio_client, second["id"], "RUNNING")
    other_flow = (await prefect_trio_client.post("/flows/", json={"name": "other"})).json()
    other_run = await create_flow_run(prefect_trio_client, other_flow)
    third = await new_task_run(prefect_trio_client, other_run["id"], "c", name="gamma")
    background = await new_task_run(prefect_trio_client, None, "d", name="delta")

    async def ids(body: dict[str, Any]) -> list[str]:
        response = await prefect_trio_client.post("/task_runs/filter", json=body)
        assert response.status_code == 200, response.text
        return [run["id"] for run in response.json()]

    by_flow_run = {"task_runs": {"flow_run_id": {"any_": [flow_run["id"]]}}, "sort": "NAME_ASC"}
    assert await ids(by_flow_run) == [first["id"], second["id"]]
    running = {"task_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}
    assert await ids(running) == [second["id"]]
    assert await ids({"flows": {"name": {"any_": ["other"]}}}) == [third["id"]]
    assert await ids({"flow_runs": {"id": {"any_": [other_run["id"]]}}}) == [third["id"]]
    everything = [third["id"], background["id"], second["id"], first["id"]]
    assert await ids({"sort": "NAME_DESC"}) == everything
    # A ``flow_run_id`` criterion leaves out the task runs without a flow run by default.
    with_flow_run = {"task_runs": {"flow_run_id": {}}, "sort": "NAME_DESC"}
    assert await ids(with_flow_run) == [third["id"], second["id"], first["id"]]
    assert await ids({"task_runs": {"flow_run_id": {"is_null_": True}}}) == [background["id"]]
    assert await ids({"sort": "NAME_ASC", "offset": 1, "limit": 1}) == [second["id"]]
    assert await ids({"task_runs": {"name": {"like_": "ALP"}}}) == [first["id"]]
    assert await ids({"deployments": {"id": {"any_": [MISSING]}}}) == []

    count = await prefect_trio_client.post(
        "/task_runs/count", json={"flows": {"name": {"any_": ["the-flow"]}}}
    )
    assert count.json() == 2
    assert (await prefect_trio_client.post("/task_runs/count", json={})).json() == 4
    assert (await prefect_trio_client.post("/task_runs/count")).json() == 4

    page = await prefect_trio_client.post(
        "/task_runs/paginate", json={"limit": 3, "page": 2, "sort": "NAME_ASC"}
    )
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["count"], body["pages"], body["page"], body["limit"]) == (4, 2, 2, 3)
    assert [run["id"] for run in body["results"]] == [third["id"]]


async def test_history(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any], flow_run: dict[str, Any]
) -> None:
    now = dt.datetime.now(dt.UTC)
    later = (now + dt.timedelta(minutes=90)).isoformat()
    first = await new_task_run(prefect_trio_client, flow_run["id"], "a")
    await new_task_run(prefect_trio_client, flow_run["id"], "b")
    await propose(prefect_trio_client, first["id"], "RUNNING")
    await new_task_run(
        prefect_trio_client,
        flow_run["id"],
        "c",
        state={"type": "SCHEDULED", "state_details": {"scheduled_time": later}},
    )
    start = now - dt.timedelta(hours=1)
    body = {
        "history_start": start.isoformat(),
        "history_end": (now + dt.timedelta(hours=2)).isoformat(),
        "history_interval_seconds": 3600,
    }
    response = await prefect_trio_client.post("/task_runs/history", json=body)
    assert response.status_code == 200, response.text
    intervals = response.json()
    assert len(intervals) == 3
    assert intervals[0]["states"] == []
    states = intervals[1]["states"]
    assert [(s["state_type"], s["state_name"], s["count_runs"]) for s in states] == [
        ("PENDING", "Pending", 1),
        ("RUNNING", "Running", 1),
    ]
    scheduled = intervals[2]["states"]
    assert [(s["state_type"], s["count_runs"]) for s in scheduled] == [("SCHEDULED", 1)]
    assert all(s["sum_estimated_run_time"] >= 0 for s in states)
    assert intervals[1]["interval_start"].endswith("Z")
    filtered = await prefect_trio_client.post(
        "/task_runs/history",
        json={**body, "task_runs": {"state": {"type": {"any_": ["RUNNING"]}}}},
    )
    assert [len(interval["states"]) for interval in filtered.json()] == [0, 1, 0]
    too_small = await prefect_trio_client.post(
        "/task_runs/history", json={**body, "history_interval_seconds": 0.5}
    )
    assert too_small.status_code == 422
    missing = await prefect_trio_client.post("/task_runs/history", json={})
    assert missing.status_code == 422
    assert ["body", "history_start"] in [e["loc"] for e in missing.json()["exception_detail"]]


async def test_update_and_delete(
    prefect_trio_client: httpx.AsyncClient, flow: dict[str, Any], flow_run: dict[str, Any]
) -> None:
    run = await new_task_run(prefect_trio_client, flow_run["id"])
    patched = await prefect_trio_client.patch(f"/task_runs/{run['id']}", json={"name": "renamed"})
    assert patched.status_code == 204
    shown = (await prefect_trio_client.get(f"/task_runs/{run['id']}")).json()
    assert shown["name"] == "renamed"
    assert shown["updated"] >= run["updated"]

    assert (await prefect_trio_client.delete(f"/task_runs/{run['id']}")).status_code == 204
    assert (await prefect_trio_client.get(f"/task_runs/{run['id']}")).status_code == 404
    assert await states_of(prefect_trio_client, run["id"]) == []
    state = await prefect_trio_client.get(f"/task_run_states/{run['state_id']}")
    assert state.status_code == 404
    # Deleting the flow run deletes its task runs.
    kept = await new_task_run(prefect_trio_client, flow_run["id"], "other")
    assert (await prefect_trio_client.delete(f"/flow_runs/{flow_run['id']}")).status_code == 204
    assert (await prefect_trio_client.get(f"/task_runs/{kept['id']}")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/task_runs/{MISSING}", None),
        ("PATCH", f"/task_runs/{MISSING}", {"name": "x"}),
        ("DELETE", f"/task_runs/{MISSING}", None),
        ("POST", f"/task_runs/{MISSING}/set_state", {"state": {"type": "RUNNING"}}),
        ("GET", f"/task_run_states/{MISSING}", None),
        ("POST", "/task_runs/", {"flow_run_id": MISSING, "task_key": "k", "dynamic_key": "0"}),
    ],
)
async def test_unknown_ids_are_404(
    prefect_trio_client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    response = await prefect_trio_client.request(method, path, json=body)
    assert response.status_code == 404, response.text
    assert "exception_message" in response.json()


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("POST", "/task_runs/", {"dynamic_key": "0"}, ["body", "task_key"]),
        ("POST", "/task_runs/", {"task_key": "k"}, ["body", "dynamic_key"]),
        (
            "POST",
            "/task_runs/",
            {"task_key": "k", "dynamic_key": "0", "flow_run_id": "nope"},
            ["body", "flow_run_id"],
        ),
        ("POST", "/task_runs/filter", {"sort": "WRONG"}, ["body", "sort"]),
        ("POST", "/task_runs/filter", {"limit": 100_000}, ["body", "limit"]),
        ("POST", "/task_runs/filter", {"task_runs": {"bogus": {}}}, ["body", "task_runs"]),
        ("POST", "/task_runs/paginate", {"page": 0}, ["body", "page"]),
        ("POST", f"/task_runs/{MISSING}/set_state", {}, ["body", "state"]),
        ("GET", "/task_runs/not-a-uuid", None, ["path", "id"]),
        ("GET", "/task_run_states/", None, ["query", "task_run_id"]),
    ],
)
async def test_bad_input_is_422(
    prefect_trio_client: httpx.AsyncClient, method: str, path: str, body: Any, loc: list[str]
) -> None:
    response = await prefect_trio_client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["exception_detail"][0]["loc"][: len(loc)] == loc


async def test_invalid_state_type_is_422_and_nothing_written(
    prefect_trio_client: httpx.AsyncClient, flow_run: dict[str, Any]
) -> None:
    run = await new_task_run(prefect_trio_client, flow_run["id"])
    response = await propose(prefect_trio_client, run["id"], "EXPLODED")
    assert response.status_code == 422
    assert response.json()["exception_detail"][0]["loc"][:3] == ["body", "state", "type"]
    assert len(await states_of(prefect_trio_client, run["id"])) == 1
