"""List routes answer with JSON the database writes: it must be exactly what the models write.

Every object a ``/filter`` or ``/paginate`` route returns is compared with the same object read
alone (``GET /<kind>/{id}``, answered through the pydantic models) and with its own
round-trip through the response model, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from prefect_trio_server.database.json_rows import JsonObject
from prefect_trio_server.database.tables import log
from prefect_trio_server.schemas.core import FlowRunResponse, Log, TaskRun

HEADERS = {"X-PREFECT-API-VERSION": "0.8.4"}
ESTIMATES = ("estimated_run_time", "estimated_start_time_delta")
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}


def _at(seconds: float) -> str:
    moment = dt.datetime(2026, 11, 25, 6, 0, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


async def _post(client: httpx.AsyncClient, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=HEADERS)
    assert response.status_code in (200, 201), response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _seed(client: httpx.AsyncClient) -> None:
    """Runs in many shapes: every state kind, odd text, nested JSON, nulls and not."""
    flow = await _post(client, "/flows/", {"name": "pages", "tags": ["a"]})
    shapes: list[dict[str, Any]] = [
        {"state": None},
        {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": _at(-30)}}},
        {"state": {"type": "PENDING", "message": 'quote " and \\ and \n and é ✓'}},
        {
            "name": "ünïcode-run ✓",
            "parameters": {"nested": {"list": [1, 2.5, None, True, "x"]}, "ß": "ö"},
            "context": {"k": [{"deep": {}}]},
            "tags": ["t1", "t-2"],
            "labels": {"team": "data", "n": 3, "flag": True},
            "idempotency_key": "key-1",
            "flow_version": "1.0",
            "work_queue_name": "q",
            "job_variables": {"image": "python:3.11", "env": {"A": "1"}},
            "empirical_policy": {"retries": 2, "retry_delay": 5},
            "state": {"type": "PENDING"},
        },
    ]
    for shape in shapes:
        state = shape.pop("state")
        body = {"flow_id": flow["id"], **shape}
        if state is not None:
            body["state"] = state
        await _post(client, "/flow_runs/", body)
    for final in ("COMPLETED", "FAILED", "CANCELLED"):
        run = await _post(client, "/flow_runs/", {"flow_id": flow["id"]})
        for state_type in ("PENDING", "RUNNING", final):
            state: dict[str, Any] = {"type": state_type}
            if state_type == final:
                state |= {"message": f"ended {final}", "data": {"type": "x", "n": [1, 2]}}
            await _post(client, f"/flow_runs/{run['id']}/set_state", {"state": state})
    running = await _post(client, "/flow_runs/", {"flow_id": flow["id"]})
    for state_type in ("PENDING", "RUNNING"):
        await _post(
            client, f"/flow_runs/{running['id']}/set_state", {"state": {"type": state_type}}
        )

    task_shapes: list[dict[str, Any]] = [
        {"flow_run_id": None, "task_key": "orphan", "dynamic_key": "0"},
        {
            "flow_run_id": running["id"],
            "task_key": "rich",
            "dynamic_key": "1",
            "cache_key": "c-1",
            "cache_expiration": _at(3600.5),
            "task_version": "v2",
            "tags": ["x"],
            "labels": {"l": 1},
            "empirical_policy": {"retries": 1, "retry_delay": [1, 2], "retry_jitter_factor": 0.5},
            "task_inputs": {
                "a": [{"input_type": "task_run", "id": str(uuid.uuid4())}],
                "b": [{"input_type": "parameter", "name": "p"}],
                "c": [{"input_type": "constant", "type": "int"}],
            },
        },
    ]
    for shape in task_shapes:
        task = await _post(client, "/task_runs/", shape)
    for state_type in ("RUNNING", "COMPLETED"):
        await _post(client, f"/task_runs/{task['id']}/set_state", {"state": {"type": state_type}})

    await _post(
        client,
        "/logs/",
        [
            {
                "name": "n",
                "level": 20,
                "message": "whole second",
                "timestamp": _at(0),
                "flow_run_id": running["id"],
                "task_run_id": task["id"],
            },
            {
                "name": "n ✓",
                "level": 40,
                "message": 'tab\tquote"',
                "timestamp": _at(0.000100),
                "flow_run_id": None,
                "task_run_id": None,
            },
        ],
    )


def _same(listed: dict[str, Any], alone: dict[str, Any]) -> None:
    """Equal JSON, but for the estimates of a run still running (they grow with time)."""
    assert set(listed) == set(alone)
    for name, value in alone.items():
        if name in ESTIMATES and alone["state_type"] not in TERMINAL:
            assert isinstance(listed[name], float)
            assert listed[name] == pytest.approx(value, abs=600)
        else:
            assert listed[name] == value, name


def _model_writes_the_same(model: type[BaseModel], listed: dict[str, Any]) -> None:
    assert set(listed) == set(model.model_fields)
    assert model.model_validate(listed).model_dump(mode="json") == listed


@pytest.fixture
async def seeded(prefect_trio_client: httpx.AsyncClient) -> httpx.AsyncClient:
    await _seed(prefect_trio_client)
    return prefect_trio_client


async def _listed(client: httpx.AsyncClient, kind: str, route: str) -> list[dict[str, Any]]:
    """The runs of one list route; a ``/paginate`` page's numbers are checked on the way."""
    response = await client.post(f"/{kind}/{route}", json={"limit": 50})
    assert response.status_code == 200, response.text
    answer = response.json()
    if route == "filter":
        listed: list[dict[str, Any]] = answer
        return listed
    numbers = {name: value for name, value in answer.items() if name != "results"}
    count = len(answer["results"])
    assert numbers == {"count": count, "limit": 50, "pages": 1, "page": 1}
    results: list[dict[str, Any]] = answer["results"]
    return results


@pytest.mark.parametrize("route", ["filter", "paginate"])
@pytest.mark.parametrize(
    ("kind", "model"), [("flow_runs", FlowRunResponse), ("task_runs", TaskRun)]
)
async def test_run_lists_match_single_reads(
    seeded: httpx.AsyncClient, route: str, kind: str, model: type[BaseModel]
):
    listed = await _listed(seeded, kind, route)
    if kind == "flow_runs":
        assert len(listed) == 8
        assert {run["state_type"] for run in listed} == {
            "SCHEDULED",
            "PENDING",
            "RUNNING",
            "COMPLETED",
            "FAILED",
            "CANCELLED",
        }
    else:
        assert sorted(task["task_key"] for task in listed) == ["orphan", "rich"]
    for run in listed:
        alone = (await seeded.get(f"/{kind}/{run['id']}")).json()
        _same(run, alone)
        _model_writes_the_same(model, run)


async def test_log_list_is_what_the_model_writes(seeded: httpx.AsyncClient):
    listed = (await seeded.post("/logs/filter", json={"sort": "TIMESTAMP_ASC"})).json()
    assert [entry["timestamp"] for entry in listed] == [_at(0), _at(0.0001)]
    assert listed[0]["timestamp"] == "2026-11-25T06:00:00Z"
    assert listed[1]["timestamp"] == "2026-11-25T06:00:00.000100Z"
    assert listed[1]["message"] == 'tab\tquote"'
    for entry in listed:
        _model_writes_the_same(Log, entry)


async def test_an_empty_page_is_an_empty_list(prefect_trio_client: httpx.AsyncClient):
    for path in ("/flow_runs/filter", "/task_runs/filter", "/logs/filter"):
        response = await prefect_trio_client.post(path, json={})
        assert response.status_code == 200
        assert response.json() == []
    page = (await prefect_trio_client.post("/flow_runs/paginate", json={})).json()
    assert page == {"results": [], "count": 0, "limit": 200, "pages": 0, "page": 1}


def test_a_model_field_without_a_column_is_refused():
    class WithExtra(Log):
        surprise: int = 0

    with pytest.raises(ValueError, match=r"WithExtra\.surprise has no column"):
        JsonObject.of_model(WithExtra, log)
    assert "surprise" in JsonObject.of_model(WithExtra, log, computed={"surprise": None}).fields


def test_more_fields_than_one_call_takes_are_refused():
    too_many = {f"field_{index}": None for index in range(51)}
    with pytest.raises(ValueError, match="more than one JSON object call"):
        JsonObject(too_many)


async def test_numbers_json_cannot_hold_are_stored_and_listed_as_null(
    prefect_trio_client: httpx.AsyncClient,
):
    """``NaN``/``Infinity`` parse from a request body but are not JSON: stored as null."""
    flow = await _post(prefect_trio_client, "/flows/", {"name": "nan"})
    body = '{"flow_id": "%s", "parameters": {"x": NaN, "y": [Infinity, -Infinity], "z": 1.5}}'
    created = await prefect_trio_client.post(
        "/flow_runs/", content=body % flow["id"], headers={"content-type": "application/json"}
    )
    assert created.status_code == 201, created.text
    expected = {"x": None, "y": [None, None], "z": 1.5}
    assert created.json()["parameters"] == expected
    listed = (await prefect_trio_client.post("/flow_runs/filter", json={})).json()
    assert [run["parameters"] for run in listed] == [expected]
    alone = (await prefect_trio_client.get(f"/flow_runs/{created.json()['id']}")).json()
    assert alone["parameters"] == expected


async def test_pages_through_equal_sort_keys_keep_order_and_miss_nothing(
    prefect_trio_client: httpx.AsyncClient,
):
    """A page is cut by ids first, then its objects are written and sorted again: pages
    over rows that share their sort key (broken by id) still tile the whole list."""
    client = prefect_trio_client
    logs = [
        {"name": "tie", "level": 20, "message": f"m{i}", "timestamp": _at(i // 7)}
        for i in range(21)
    ]
    assert (await client.post("/logs/", json=logs, headers=HEADERS)).status_code == 201
    flow = await _post(client, "/flows/", {"name": "ties"})
    same_start = _at(60)
    for _ in range(9):
        await _post(
            client,
            "/flow_runs/",
            {
                "flow_id": flow["id"],
                "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": same_start}},
            },
        )

    for sort, key in (("TIMESTAMP_ASC", 1), ("TIMESTAMP_DESC", -1)):
        pages = [
            (
                await client.post("/logs/filter", json={"sort": sort, "limit": 4, "offset": offset})
            ).json()
            for offset in range(0, 24, 4)
        ]
        listed = [entry for page in pages for entry in page]
        assert [len(page) for page in pages] == [4, 4, 4, 4, 4, 1]
        messages = sorted(entry["message"] for entry in logs)
        assert sorted(entry["message"] for entry in listed) == messages
        expected = sorted(listed, key=lambda e: (e["timestamp"], e["id"]))
        assert listed == (expected if key == 1 else expected[::-1])

    pages = [
        (
            await client.post(
                "/flow_runs/filter",
                json={"sort": "EXPECTED_START_TIME_DESC", "limit": 2, "offset": offset},
            )
        ).json()
        for offset in range(0, 10, 2)
    ]
    runs = [run for page in pages for run in page]
    assert [len(page) for page in pages] == [2, 2, 2, 2, 1]
    assert {run["expected_start_time"] for run in runs} == {same_start}
    assert [run["id"] for run in runs] == sorted((run["id"] for run in runs), reverse=True)
