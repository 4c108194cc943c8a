"""Real Prefect 3.9.1 tasks: recorded from the client's events, read through our API."""

from __future__ import annotations

from typing import Any

import pytest

from interop_client import Client

pytestmark = pytest.mark.slow


def one_flow_run(client: Client, flow_name: str) -> dict[str, Any]:
    with client.api() as api:
        runs = api.post("/flow_runs/filter", json={"flows": {"name": {"any_": [flow_name]}}})
        [run] = [r for r in runs.json() if r["parent_task_run_id"] is None]
        result: dict[str, Any] = run
        return result


def task_runs_of(client: Client, flow_run_id: str) -> list[dict[str, Any]]:
    with client.api() as api:
        response = api.post(
            "/task_runs/filter",
            json={"task_runs": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "NAME_ASC"},
        )
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()
        return runs


def test_tasks_results_states_and_retries(prefect_client: Client) -> None:
    result = prefect_client.run(
        """
        from prefect import flow, task

        attempts = []

        @task
        def add(x: int, y: int) -> int:
            return x + y

        @task(retries=1, retry_delay_seconds=0)
        def flaky() -> str:
            attempts.append(1)
            if len(attempts) == 1:
                raise RuntimeError("first try fails")
            return "ok"

        @flow(name="tasks-interop")
        def pipeline() -> tuple[int, str]:
            return add(add(1, 2), 3), flaky()

        print(pipeline())
        """
    )
    assert "(6, 'ok')" in result.stdout
    run = one_flow_run(prefect_client, "tasks-interop")
    assert run["state_type"] == "COMPLETED"
    tasks = task_runs_of(prefect_client, run["id"])
    assert len(tasks) == 3
    assert {task["state_type"] for task in tasks} == {"COMPLETED"}
    [flaky] = [
        task for task in tasks if task["task_key"].startswith("flaky") or "flaky" in task["name"]
    ]
    assert flaky["run_count"] == 2
    with prefect_client.api() as api:
        states = api.get("/task_run_states/", params={"task_run_id": flaky["id"]}).json()
    names = [state["name"] for state in states]
    assert names[0] == "Pending"
    assert names[-1] == "Completed"
    assert "AwaitingRetry" in names or "Retrying" in names


def test_subflow_map_and_async(prefect_client: Client) -> None:
    prefect_client.run(
        """
        import asyncio
        from prefect import flow, task

        @task
        def double(x: int) -> int:
            return 2 * x

        @task
        async def slow_square(x: int) -> int:
            await asyncio.sleep(0)
            return x * x

        @flow(name="child-interop")
        def child(n: int) -> int:
            return sum(f.result() for f in double.map(range(n)))

        @flow(name="async-interop")
        async def async_parent() -> int:
            values = await asyncio.gather(slow_square(2), slow_square(3))
            return sum(values) + child(3)

        assert asyncio.run(async_parent()) == 13 + 6
        """
    )
    parent = one_flow_run(prefect_client, "async-interop")
    assert parent["state_type"] == "COMPLETED"
    with prefect_client.api() as api:
        children = api.post(
            "/flow_runs/filter", json={"flows": {"name": {"any_": ["child-interop"]}}}
        ).json()
    [child] = children
    assert child["state_type"] == "COMPLETED"
    assert child["parent_task_run_id"] is not None
    parent_tasks = task_runs_of(prefect_client, parent["id"])
    assert child["parent_task_run_id"] in {task["id"] for task in parent_tasks}
    assert sorted(t["state_type"] for t in parent_tasks) == ["COMPLETED"] * 3
    mapped = task_runs_of(prefect_client, child["id"])
    assert len(mapped) == 3
    assert {task["state_type"] for task in mapped} == {"COMPLETED"}
