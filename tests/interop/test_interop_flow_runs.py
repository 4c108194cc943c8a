"""Real Prefect 3.9.1 flows against our server, checked through our REST API."""

from __future__ import annotations

import pytest

from interop_client import Client

pytestmark = pytest.mark.slow


def flow_runs(client: Client, flow_name: str) -> list[dict[str, object]]:
    with client.api() as api:
        response = api.post("/flow_runs/filter", json={"flows": {"name": {"any_": [flow_name]}}})
        response.raise_for_status()
        runs: list[dict[str, object]] = response.json()
        return runs


def test_a_flow_runs_to_completion_with_its_logs(prefect_client: Client) -> None:
    result = prefect_client.run(
        """
        from prefect import flow, get_run_logger

        @flow(name="hello-interop")
        def hello(name: str) -> str:
            get_run_logger().info("greeting %s", name)
            return f"hello {name}"

        print(hello("trio"))
        """
    )
    assert "hello trio" in result.stdout
    [run] = flow_runs(prefect_client, "hello-interop")
    assert run["state_type"] == "COMPLETED"
    assert run["run_count"] == 1
    assert run["parameters"] == {"name": "trio"}
    with prefect_client.api() as api:
        states = api.get("/flow_run_states/", params={"flow_run_id": run["id"]}).json()
        assert [s["type"] for s in states] == ["PENDING", "RUNNING", "COMPLETED"]
        logs = api.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": [run["id"]]}}})
        messages = [log["message"] for log in logs.json()]
    assert "greeting trio" in messages


def test_a_failing_flow_is_failed_with_its_message(prefect_client: Client) -> None:
    result = prefect_client.run(
        """
        from prefect import flow

        @flow(name="doomed-interop")
        def doomed() -> None:
            raise ValueError("this flow fails on purpose")

        doomed()
        """,
        expect_success=False,
    )
    assert result.returncode != 0
    [run] = flow_runs(prefect_client, "doomed-interop")
    assert run["state_type"] == "FAILED"
    assert "this flow fails on purpose" in str(run["state"]["message"])  # type: ignore[index]


def test_flow_retries_are_orchestrated_by_the_server(prefect_client: Client) -> None:
    prefect_client.run(
        """
        from prefect import flow

        attempts = []

        @flow(name="flaky-interop", retries=1, retry_delay_seconds=0)
        def flaky() -> int:
            attempts.append(1)
            if len(attempts) == 1:
                raise RuntimeError("first attempt fails")
            return len(attempts)

        assert flaky() == 2
        """
    )
    [run] = flow_runs(prefect_client, "flaky-interop")
    assert run["state_type"] == "COMPLETED"
    assert run["run_count"] == 2
    with prefect_client.api() as api:
        states = api.get("/flow_run_states/", params={"flow_run_id": run["id"]}).json()
    assert "AwaitingRetry" in [s["name"] for s in states]


def test_cli_lists_and_inspects_flow_runs(prefect_client: Client) -> None:
    prefect_client.run(
        """
        from prefect import flow

        @flow(name="listed-interop")
        def listed() -> None:
            pass

        listed()
        """
    )
    [run] = flow_runs(prefect_client, "listed-interop")
    listing = prefect_client.run(
        """
        import sys
        from prefect.cli import app
        sys.argv = ["prefect", "flow-run", "ls"]
        app()
        """
    )
    assert str(run["name"]) in listing.stdout
    inspected = prefect_client.run(
        f"""
        import sys
        from prefect.cli import app
        sys.argv = ["prefect", "flow-run", "inspect", "{run["id"]}"]
        app()
        """
    )
    assert str(run["id"]) in inspected.stdout
