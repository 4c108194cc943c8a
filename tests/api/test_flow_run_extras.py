"""/flow_runs extras: inputs, bulk operations, history, lateness, logs download."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any

import httpx
import pytest

MISSING = str(uuid.UUID(int=0))


@pytest.fixture
async def run(prefect_trio_client: httpx.AsyncClient) -> dict[str, Any]:
    flow = (await prefect_trio_client.post("/flows/", json={"name": "extras"})).json()
    body: dict[str, Any] = (
        await prefect_trio_client.post("/flow_runs/", json={"flow_id": flow["id"]})
    ).json()
    return body


async def test_inputs(prefect_trio_client: httpx.AsyncClient, run: dict[str, Any]) -> None:
    base = f"/flow_runs/{run['id']}/input"
    for key in ("answer-1", "answer-2", "other"):
        created = await prefect_trio_client.post(
            base, json={"key": key, "value": '{"v": 1}', "sender": "me"}
        )
        assert created.status_code == 201, created.text
    duplicate = await prefect_trio_client.post(base, json={"key": "other", "value": "x"})
    assert duplicate.status_code == 409
    value = await prefect_trio_client.get(f"{base}/answer-1")
    assert value.text == '{"v": 1}'
    found = await prefect_trio_client.post(
        f"{base}/filter", json={"prefix": "answer", "limit": 5, "exclude_keys": ["answer-2"]}
    )
    assert [item["key"] for item in found.json()] == ["answer-1"]
    assert (await prefect_trio_client.delete(f"{base}/answer-1")).status_code == 204
    assert (await prefect_trio_client.get(f"{base}/answer-1")).status_code == 404
    assert (await prefect_trio_client.delete(f"{base}/answer-1")).status_code == 404
    missing = await prefect_trio_client.post(
        f"/flow_runs/{MISSING}/input", json={"key": "k", "value": "v"}
    )
    assert missing.status_code == 404
    bad = await prefect_trio_client.post(base, json={"value": "v"})
    assert bad.status_code == 422


async def test_bulk_set_state_and_delete(
    prefect_trio_client: httpx.AsyncClient, run: dict[str, Any]
) -> None:
    second = (
        await prefect_trio_client.post("/flow_runs/", json={"flow_id": run["flow_id"]})
    ).json()
    response = await prefect_trio_client.post(
        "/flow_runs/bulk_set_state",
        json={
            "flow_runs": {"id": {"any_": [run["id"], second["id"]]}},
            "state": {"type": "CANCELLED"},
        },
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert {r["flow_run_id"] for r in results} == {run["id"], second["id"]}
    assert {r["status"] for r in results} == {"ACCEPT"}
    shown = (await prefect_trio_client.get(f"/flow_runs/{run['id']}")).json()
    assert shown["state_type"] == "CANCELLED"

    deleted = await prefect_trio_client.post(
        "/flow_runs/bulk_delete", json={"flow_runs": {"id": {"any_": [run["id"]]}}}
    )
    assert deleted.json() == {"deleted": [run["id"]]}
    assert (await prefect_trio_client.post("/flow_runs/count")).json() == 1
    too_many = await prefect_trio_client.post("/flow_runs/bulk_delete", json={"limit": 500})
    assert too_many.status_code == 422


async def test_history_and_lateness(
    prefect_trio_client: httpx.AsyncClient, run: dict[str, Any]
) -> None:
    now = dt.datetime.now(dt.UTC)
    body = {
        "history_start": (now - dt.timedelta(hours=1)).isoformat(),
        "history_end": (now + dt.timedelta(hours=1)).isoformat(),
        "history_interval_seconds": 3600,
    }
    history = (await prefect_trio_client.post("/flow_runs/history", json=body)).json()
    assert len(history) == 2
    states = [state for interval in history for state in interval["states"]]
    assert states == [
        {
            "state_type": "PENDING",
            "state_name": "Pending",
            "count_runs": 1,
            "sum_estimated_run_time": 0.0,
            "sum_estimated_lateness": states[0]["sum_estimated_lateness"],
        }
    ]
    lateness = (await prefect_trio_client.post("/flow_runs/lateness", json={})).json()
    assert isinstance(lateness, float)
    assert lateness >= 0
    none = await prefect_trio_client.post(
        "/flow_runs/lateness", json={"flow_runs": {"id": {"any_": [MISSING]}}}
    )
    assert none.json() is None
    too_fine = await prefect_trio_client.post(
        "/flow_runs/history", json={**body, "history_interval_seconds": 1}
    )
    assert too_fine.status_code == 422
    assert too_fine.json()["exception_detail"][0]["loc"] == ["body", "history_interval_seconds"]


async def test_logs_download(prefect_trio_client: httpx.AsyncClient, run: dict[str, Any]) -> None:
    now = dt.datetime.now(dt.UTC)
    logs = [
        {
            "name": "prefect.flow_runs",
            "level": 20,
            "message": f"line {i}, with a comma",
            "timestamp": (now + dt.timedelta(seconds=i)).isoformat(),
            "flow_run_id": run["id"],
        }
        for i in range(3)
    ]
    assert (await prefect_trio_client.post("/logs/", json=logs)).status_code == 201
    response = await prefect_trio_client.get(f"/flow_runs/{run['id']}/logs/download")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert run["name"] in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["timestamp", "level", "flow_run_id", "task_run_id", "message"]
    assert [row[4] for row in rows[1:]] == [f"line {i}, with a comma" for i in range(3)]
    missing = await prefect_trio_client.get(f"/flow_runs/{MISSING}/logs/download")
    assert missing.status_code == 404


async def test_resume_a_paused_run_with_input(
    prefect_trio_client: httpx.AsyncClient, run: dict[str, Any]
) -> None:
    resume = f"/flow_runs/{run['id']}/resume"
    not_paused = await prefect_trio_client.post(resume, json={})
    assert not_paused.json()["status"] == "ABORT"
    await prefect_trio_client.post(
        f"/flow_runs/{run['id']}/set_state", json={"state": {"type": "RUNNING"}}
    )
    paused = await prefect_trio_client.post(
        f"/flow_runs/{run['id']}/set_state",
        json={
            "state": {
                "type": "PAUSED",
                "state_details": {
                    "pause_key": "p1",
                    "run_input_keyset": {"response": "p1-response", "schema": "p1-schema"},
                },
            }
        },
    )
    assert paused.json()["status"] == "ACCEPT", paused.text
    resumed = await prefect_trio_client.post(resume, json={"run_input": {"approved": True}})
    assert resumed.json()["status"] == "ACCEPT", resumed.text
    assert resumed.json()["state"]["type"] == "RUNNING"
    stored = await prefect_trio_client.get(f"/flow_runs/{run['id']}/input/p1-response")
    assert stored.json() == {"approved": True}
    shown = (await prefect_trio_client.get(f"/flow_runs/{run['id']}")).json()
    assert shown["run_count"] == 1  # resuming is not a new run
    assert (await prefect_trio_client.post(f"/flow_runs/{MISSING}/resume")).status_code == 404
