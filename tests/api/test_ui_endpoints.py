"""The UI aggregate endpoints (/ui/flows, /ui/flow_runs, /ui/task_runs) on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

MISSING = str(uuid.UUID(int=0))
STATE_TYPES = (
    "SCHEDULED",
    "PENDING",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "CRASHED",
    "PAUSED",
    "CANCELLING",
)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def new_flow(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await client.post("/flows/", json={"name": name})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def new_flow_run(client: httpx.AsyncClient, flow_id: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/flow_runs/", json={"flow_id": flow_id, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_scheduled_run(
    client: httpx.AsyncClient, flow_id: str, at: dt.datetime, **fields: Any
) -> dict[str, Any]:
    state = {"type": "SCHEDULED", "state_details": {"scheduled_time": _iso(at)}}
    return await new_flow_run(client, flow_id, state=state, **fields)


async def new_task_run(
    client: httpx.AsyncClient, flow_run_id: str | None, task_key: str, **fields: Any
) -> dict[str, Any]:
    body = {"flow_run_id": flow_run_id, "task_key": task_key, "dynamic_key": "0", **fields}
    response = await client.post("/task_runs/", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def force_states(client: httpx.AsyncClient, kind: str, run_id: str, *types: str) -> None:
    for state_type in types:
        response = await client.post(
            f"/{kind}/{run_id}/set_state",
            json={"state": {"type": state_type}, "force": True},
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "ACCEPT", response.text


async def read(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_validation_error(response: httpx.Response, location: list[str | int]) -> None:
    assert response.status_code == 422, response.text
    locations = [error["loc"] for error in response.json()["exception_detail"]]
    assert location in locations, locations


# -- /ui/flows ------------------------------------------------------------------------------


async def test_count_deployments_is_zero_for_every_flow(
    prefect_trio_client: httpx.AsyncClient,
) -> None:
    flow = await new_flow(prefect_trio_client, "counted")
    response = await prefect_trio_client.post(
        "/ui/flows/count-deployments", json={"flow_ids": [flow["id"], MISSING]}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {flow["id"]: 0, MISSING: 0}

    empty = await prefect_trio_client.post("/ui/flows/count-deployments", json={"flow_ids": []})
    assert empty.json() == {}


async def test_count_deployments_validates_the_ids(
    prefect_trio_client: httpx.AsyncClient,
) -> None:
    missing = await prefect_trio_client.post("/ui/flows/count-deployments", json={})
    assert_validation_error(missing, ["body", "flow_ids"])
    too_many = [str(uuid.uuid4()) for _ in range(201)]
    response = await prefect_trio_client.post(
        "/ui/flows/count-deployments", json={"flow_ids": too_many}
    )
    assert_validation_error(response, ["body", "flow_ids"])
    bad = await prefect_trio_client.post(
        "/ui/flows/count-deployments", json={"flow_ids": ["not-a-uuid"]}
    )
    assert_validation_error(bad, ["body", "flow_ids", 0])


async def test_next_runs_picks_the_soonest_future_scheduled_run(
    prefect_trio_client: httpx.AsyncClient,
) -> None:
    client = prefect_trio_client
    now = dt.datetime.now(dt.UTC)
    busy = await new_flow(client, "busy")
    idle = await new_flow(client, "idle")
    await new_scheduled_run(client, busy["id"], now + dt.timedelta(hours=2))
    soonest = await new_scheduled_run(
        client, busy["id"], now + dt.timedelta(hours=1), name="the-next-one"
    )
    await new_scheduled_run(client, busy["id"], now - dt.timedelta(hours=1))  # overdue
    running = await new_scheduled_run(client, busy["id"], now + dt.timedelta(minutes=5))
    await force_states(client, "flow_runs", running["id"], "RUNNING")
    await new_flow_run(client, idle["id"])  # Pending: not scheduled

    response = await client.post(
        "/ui/flows/next-runs", json={"flow_ids": [busy["id"], idle["id"], MISSING]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {busy["id"], idle["id"], MISSING}
    assert body[idle["id"]] is None
    assert body[MISSING] is None
    next_run = body[busy["id"]]
    assert next_run == {
        "id": soonest["id"],
        "flow_id": busy["id"],
        "name": "the-next-one",
        "state_name": "Scheduled",
        "state_type": "SCHEDULED",
        "next_scheduled_start_time": next_run["next_scheduled_start_time"],
    }
    assert _parse(next_run["next_scheduled_start_time"]) == now + dt.timedelta(hours=1)


async def test_next_runs_validates_the_ids(prefect_trio_client: httpx.AsyncClient) -> None:
    too_many = [str(uuid.uuid4()) for _ in range(201)]
    response = await prefect_trio_client.post("/ui/flows/next-runs", json={"flow_ids": too_many})
    assert_validation_error(response, ["body", "flow_ids"])
    empty = await prefect_trio_client.post("/ui/flows/next-runs", json={"flow_ids": []})
    assert empty.status_code == 200
    assert empty.json() == {}


# -- /ui/flow_runs --------------------------------------------------------------------------


async def test_count_task_runs_by_flow_run(prefect_trio_client: httpx.AsyncClient) -> None:
    client = prefect_trio_client
    flow = await new_flow(client, "parent")
    busy = await new_flow_run(client, flow["id"])
    quiet = await new_flow_run(client, flow["id"])
    await new_task_run(client, busy["id"], "a")
    await new_task_run(client, busy["id"], "b")
    tracking = await new_task_run(client, busy["id"], "subflow")
    # A subflow's tracking task run is not counted, as in Prefect.
    await new_flow_run(client, flow["id"], parent_task_run_id=tracking["id"])
    await new_task_run(client, None, "orphan")

    response = await client.post(
        "/ui/flow_runs/count-task-runs",
        json={"flow_run_ids": [busy["id"], quiet["id"], MISSING]},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {busy["id"]: 2, quiet["id"]: 0, MISSING: 0}


async def test_count_task_runs_validates_the_ids(prefect_trio_client: httpx.AsyncClient) -> None:
    missing = await prefect_trio_client.post("/ui/flow_runs/count-task-runs", json={})
    assert_validation_error(missing, ["body", "flow_run_ids"])
    too_many = [str(uuid.uuid4()) for _ in range(201)]
    response = await prefect_trio_client.post(
        "/ui/flow_runs/count-task-runs", json={"flow_run_ids": too_many}
    )
    assert_validation_error(response, ["body", "flow_run_ids"])


@pytest.fixture
async def history_runs(prefect_trio_client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """A finished run, a running one, and one scheduled in the future (of two flows)."""
    client = prefect_trio_client
    now = dt.datetime.now(dt.UTC)
    first = await new_flow(client, "history-one")
    second = await new_flow(client, "history-two")
    done = await new_flow_run(client, first["id"], tags=["done"])
    await force_states(client, "flow_runs", done["id"], "RUNNING", "COMPLETED")
    running = await new_flow_run(client, first["id"])
    await force_states(client, "flow_runs", running["id"], "RUNNING")
    await new_task_run(client, running["id"], "work", name="work")
    later = await new_scheduled_run(client, second["id"], now + dt.timedelta(hours=1))
    return {
        "done": await read(client, f"/flow_runs/{done['id']}"),
        "running": await read(client, f"/flow_runs/{running['id']}"),
        "later": await read(client, f"/flow_runs/{later['id']}"),
    }


async def test_flow_run_history_simplifies_the_runs(
    prefect_trio_client: httpx.AsyncClient, history_runs: dict[str, dict[str, Any]]
) -> None:
    response = await prefect_trio_client.post("/ui/flow_runs/history", json={})
    assert response.status_code == 200, response.text
    items = response.json()
    by_id = {item["id"]: item for item in items}
    # Expected start time, latest first.
    assert [item["id"] for item in items] == [
        history_runs["later"]["id"],
        history_runs["running"]["id"],
        history_runs["done"]["id"],
    ]
    for item in items:
        assert set(item) == {"id", "state_type", "timestamp", "duration", "lateness"}

    done = history_runs["done"]
    assert by_id[done["id"]]["state_type"] == "COMPLETED"
    assert _parse(by_id[done["id"]]["timestamp"]) == _parse(done["start_time"])
    assert by_id[done["id"]]["duration"] == pytest.approx(done["estimated_run_time"])
    assert by_id[done["id"]]["lateness"] == pytest.approx(done["estimated_start_time_delta"])

    running = history_runs["running"]
    assert by_id[running["id"]]["state_type"] == "RUNNING"
    assert by_id[running["id"]]["duration"] >= running["estimated_run_time"]

    later = history_runs["later"]
    assert by_id[later["id"]]["state_type"] == "SCHEDULED"
    assert _parse(by_id[later["id"]]["timestamp"]) == _parse(later["expected_start_time"])
    assert by_id[later["id"]]["duration"] == 0.0
    assert by_id[later["id"]]["lateness"] == 0.0


async def test_flow_run_history_sorts_and_pages(
    prefect_trio_client: httpx.AsyncClient, history_runs: dict[str, dict[str, Any]]
) -> None:
    response = await prefect_trio_client.post(
        "/ui/flow_runs/history",
        json={"sort": "EXPECTED_START_TIME_ASC", "limit": 1, "offset": 1},
    )
    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()] == [history_runs["running"]["id"]]

    # null means the default, as Prefect clients send it.
    nulls = await prefect_trio_client.post(
        "/ui/flow_runs/history",
        json={"sort": None, "limit": None, "offset": None, "flows": None, "deployments": None},
    )
    assert nulls.status_code == 200, nulls.text
    assert len(nulls.json()) == 3

    no_body = await prefect_trio_client.post("/ui/flow_runs/history")
    assert no_body.status_code == 200, no_body.text
    assert len(no_body.json()) == 3


async def test_flow_run_history_filters(
    prefect_trio_client: httpx.AsyncClient, history_runs: dict[str, dict[str, Any]]
) -> None:
    async def ids(body: dict[str, Any]) -> set[str]:
        response = await prefect_trio_client.post("/ui/flow_runs/history", json=body)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()}

    done, running, later = (history_runs[key]["id"] for key in ("done", "running", "later"))
    assert await ids({"flows": {"name": {"any_": ["history-two"]}}}) == {later}
    assert await ids({"flow_runs": {"tags": {"all_": ["done"]}}}) == {done}
    assert await ids({"flow_runs": {"state": {"type": {"any_": ["RUNNING", "SCHEDULED"]}}}}) == {
        running,
        later,
    }
    assert await ids({"task_runs": {"name": {"like_": "work"}}}) == {running}
    assert await ids({"task_runs": {}}) == {running}
    # No deployments or work pools are stored: such a filter matches nothing.
    assert await ids({"deployments": {}}) == set()
    assert await ids({"work_pools": {"name": {"any_": ["pool"]}}}) == set()


async def test_flow_run_history_limits(prefect_trio_client: httpx.AsyncClient) -> None:
    over = await prefect_trio_client.post("/ui/flow_runs/history", json={"limit": 1001})
    assert_validation_error(over, ["body", "limit"])
    negative = await prefect_trio_client.post("/ui/flow_runs/history", json={"offset": -1})
    assert_validation_error(negative, ["body", "offset"])
    sort = await prefect_trio_client.post("/ui/flow_runs/history", json={"sort": "SIDEWAYS"})
    assert_validation_error(sort, ["body", "sort"])
    at_max = await prefect_trio_client.post("/ui/flow_runs/history", json={"limit": 1000})
    assert at_max.status_code == 200, at_max.text


# -- /ui/task_runs --------------------------------------------------------------------------


async def test_read_task_run_with_flow_run_name(prefect_trio_client: httpx.AsyncClient) -> None:
    client = prefect_trio_client
    flow = await new_flow(client, "named")
    run = await new_flow_run(client, flow["id"], name="the-flow-run")
    task = await new_task_run(client, run["id"], "t")
    await force_states(client, "task_runs", task["id"], "RUNNING")

    body = await read(client, f"/ui/task_runs/{task['id']}")
    plain = await read(client, f"/task_runs/{task['id']}")
    assert body["flow_run_name"] == "the-flow-run"
    assert body["id"] == task["id"]
    assert body["state"]["type"] == "RUNNING"
    assert set(body) == set(plain) | {"flow_run_name"}
    for key in ("name", "flow_run_id", "task_key", "state_type", "start_time", "state_id"):
        assert body[key] == plain[key]

    orphan = await new_task_run(client, None, "orphan")
    assert (await read(client, f"/ui/task_runs/{orphan['id']}"))["flow_run_name"] is None


async def test_read_task_run_with_flow_run_name_errors(
    prefect_trio_client: httpx.AsyncClient,
) -> None:
    missing = await prefect_trio_client.get(f"/ui/task_runs/{MISSING}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Task not found"}
    bad = await prefect_trio_client.get("/ui/task_runs/not-a-uuid")
    assert_validation_error(bad, ["path", "id"])


@pytest.fixture
async def counted_runs(prefect_trio_client: httpx.AsyncClient) -> dict[str, Any]:
    """Task runs in several states, in two flow runs and outside any."""
    client = prefect_trio_client
    flow = await new_flow(client, "counting")
    first = await new_flow_run(client, flow["id"])
    second = await new_flow_run(client, flow["id"])
    states = {
        "completed-1": ("RUNNING", "COMPLETED"),
        "completed-2": ("RUNNING", "COMPLETED"),
        "failed": ("RUNNING", "FAILED"),
        "crashed": ("RUNNING", "CRASHED"),
        "cancelled": ("RUNNING", "CANCELLED"),
        "running": ("RUNNING",),
        "pending": (),
    }
    for key, types in states.items():
        task = await new_task_run(client, first["id"], key)
        await force_states(client, "task_runs", task["id"], *types)
    other = await new_task_run(client, second["id"], "other")
    await force_states(client, "task_runs", other["id"], "RUNNING", "FAILED")
    orphan = await new_task_run(client, None, "orphan")
    await force_states(client, "task_runs", orphan["id"], "RUNNING", "COMPLETED")
    return {"first": first, "second": second}


def _counts(**nonzero: int) -> dict[str, int]:
    return {state_type: nonzero.get(state_type, 0) for state_type in STATE_TYPES}


async def test_task_run_counts_by_state(
    prefect_trio_client: httpx.AsyncClient, counted_runs: dict[str, Any]
) -> None:
    client = prefect_trio_client

    async def counts(body: dict[str, Any] | None) -> dict[str, int]:
        response = await client.post("/ui/task_runs/count", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, int] = response.json()
        return result

    everything = _counts(COMPLETED=3, FAILED=2, CRASHED=1, CANCELLED=1, RUNNING=1, PENDING=1)
    assert await counts(None) == everything
    assert await counts({}) == everything
    assert await counts({"flows": None, "task_runs": None}) == everything
    first = counted_runs["first"]["id"]
    assert await counts({"flow_runs": {"id": {"any_": [first]}}}) == _counts(
        COMPLETED=2, FAILED=1, CRASHED=1, CANCELLED=1, RUNNING=1, PENDING=1
    )
    # A flow (run) filter selects only task runs that have a flow run.
    assert await counts({"flows": {"name": {"any_": ["counting"]}}}) == _counts(
        COMPLETED=2, FAILED=2, CRASHED=1, CANCELLED=1, RUNNING=1, PENDING=1
    )
    assert await counts({"task_runs": {"state": {"type": {"any_": ["FAILED"]}}}}) == _counts(
        FAILED=2
    )
    assert await counts({"deployments": {}}) == _counts()
    assert await counts({"flows": {"name": {"any_": ["nope"]}}}) == _counts()


async def test_task_run_counts_by_state_validates_filters(
    prefect_trio_client: httpx.AsyncClient,
) -> None:
    response = await prefect_trio_client.post(
        "/ui/task_runs/count", json={"task_runs": {"state": {"type": {"any_": ["ASLEEP"]}}}}
    )
    assert response.status_code == 422, response.text
    assert response.json()["exception_detail"][0]["loc"][:2] == ["body", "task_runs"]


def _window(minutes_before: int = 19, minutes_after: int = 1) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(minutes=minutes_before), now + dt.timedelta(minutes=minutes_after)


def _dashboard_body(after: dt.datetime, before: dt.datetime | None, **extra: Any) -> dict[str, Any]:
    start_time = {"after_": _iso(after)}
    if before is not None:
        start_time["before_"] = _iso(before)
    return {"task_runs": {"start_time": start_time}, **extra}


async def test_dashboard_counts_terminal_task_runs_by_start_time(
    prefect_trio_client: httpx.AsyncClient, counted_runs: dict[str, Any]
) -> None:
    client = prefect_trio_client
    after, before = _window()
    response = await client.post(
        "/ui/task_runs/dashboard/counts", json=_dashboard_body(after, before)
    )
    assert response.status_code == 200, response.text
    buckets = response.json()
    assert len(buckets) == 20
    assert all(set(bucket) == {"completed", "failed"} for bucket in buckets)
    # Completed and Cancelled are "completed"; Failed and Crashed "failed"; others not counted.
    assert sum(bucket["completed"] for bucket in buckets) == 4
    assert sum(bucket["failed"] for bucket in buckets) == 3

    # Each run lands in the bucket holding its start time.
    start = after.replace(second=0, microsecond=0)
    end = before.replace(second=59, microsecond=999999)
    delta = (end - start) / 20
    runs = await client.post("/task_runs/filter", json={})
    expected = [{"completed": 0, "failed": 0} for _ in range(20)]
    for run in runs.json():
        if run["state_type"] not in ("COMPLETED", "CANCELLED", "FAILED", "CRASHED"):
            continue
        index = (_parse(run["start_time"]) - start) // delta
        key = "failed" if run["state_type"] in ("FAILED", "CRASHED") else "completed"
        expected[index][key] += 1
    assert buckets == expected

    # Without before_, the window ends now; the state filter is replaced by terminal states.
    open_ended = _dashboard_body(after, None)
    open_ended["task_runs"]["state"] = {"type": {"any_": ["RUNNING"]}}
    response = await client.post("/ui/task_runs/dashboard/counts", json=open_ended)
    assert response.status_code == 200, response.text
    assert sum(bucket["completed"] + bucket["failed"] for bucket in response.json()) == 7


async def test_dashboard_counts_filters(
    prefect_trio_client: httpx.AsyncClient, counted_runs: dict[str, Any]
) -> None:
    client = prefect_trio_client
    after, before = _window()

    async def totals(**extra: Any) -> tuple[int, int]:
        response = await client.post(
            "/ui/task_runs/dashboard/counts", json=_dashboard_body(after, before, **extra)
        )
        assert response.status_code == 200, response.text
        buckets = response.json()
        assert len(buckets) == 20
        return (
            sum(bucket["completed"] for bucket in buckets),
            sum(bucket["failed"] for bucket in buckets),
        )

    second = counted_runs["second"]["id"]
    assert await totals(flow_runs={"id": {"any_": [second]}}) == (0, 1)
    # With a flow run filter, only task runs with a flow run count.
    assert await totals(flow_runs={}) == (3, 3)
    assert await totals(flows={"name": {"any_": ["counting"]}}) == (3, 3)
    assert await totals(flows={"name": {"any_": ["nope"]}}) == (0, 0)
    assert await totals(deployments={}) == (0, 0)
    assert await totals(work_pools={}) == (0, 0)
    assert await totals(work_queues={"name": {"any_": ["q"]}}) == (0, 0)
    assert await totals(flows=None, work_queues=None) == (4, 3)

    # A window before the runs started counts nothing.
    early_after, early_before = _window(minutes_before=120, minutes_after=-60)
    response = await client.post(
        "/ui/task_runs/dashboard/counts", json=_dashboard_body(early_after, early_before)
    )
    assert response.json() == [{"completed": 0, "failed": 0}] * 20


async def test_dashboard_counts_errors(prefect_trio_client: httpx.AsyncClient) -> None:
    client = prefect_trio_client
    missing_body = await client.post("/ui/task_runs/dashboard/counts", json={})
    assert_validation_error(missing_body, ["body", "task_runs"])
    for task_runs in ({}, {"start_time": {"before_": _iso(dt.datetime.now(dt.UTC))}}):
        response = await client.post(
            "/ui/task_runs/dashboard/counts", json={"task_runs": task_runs}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == "task_runs.start_time.after_ is required"
