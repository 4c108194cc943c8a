"""/flow_runs/{id}/graph and /graph-v2 over real task runs and a subflow run."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy import Connection

from prefect_trio_server.database.tables import flow_run, task_run

MISSING = str(uuid.UUID(int=0))


async def test_graphs(prefect_trio_client: httpx.AsyncClient, prefect_trio_app: Any) -> None:
    flow = (await prefect_trio_client.post("/flows/", json={"name": "graphed"})).json()
    parent = (await prefect_trio_client.post("/flow_runs/", json={"flow_id": flow["id"]})).json()
    now = dt.datetime.now(dt.UTC)
    first, second, tracker = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    child = uuid.uuid4()

    def task(task_id: uuid.UUID, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": task_id,
            "created": now,
            "updated": now,
            "flow_run_id": uuid.UUID(parent["id"]),
            "task_key": name,
            "dynamic_key": "0",
            "name": name,
            "task_inputs": inputs,
            "state_type": "COMPLETED",
            "state_name": "Completed",
            "start_time": now,
            "end_time": now,
            "total_run_time": 1.5,
        }

    def insert(connection: Connection) -> None:
        connection.execute(
            task_run.insert(),
            [
                task(first, "extract", {}),
                task(second, "load", {"data": [{"input_type": "task_run", "id": str(first)}]}),
                task(tracker, "child-flow", {"x": [{"input_type": "task_run", "id": str(second)}]}),
            ],
        )
        connection.execute(
            flow_run.insert().values(
                id=child,
                created=now,
                updated=now,
                flow_id=uuid.UUID(flow["id"]),
                name="the-child",
                parent_task_run_id=tracker,
                state_type="COMPLETED",
                state_name="Completed",
                start_time=now,
                end_time=now,
            )
        )

    database = prefect_trio_app.state.api_app.state.database
    await database.write(insert)

    v1 = (await prefect_trio_client.get(f"/flow_runs/{parent['id']}/graph")).json()
    upstream = {node["name"]: [u["id"] for u in node["upstream_dependencies"]] for node in v1}
    assert upstream == {"extract": [], "load": [str(first)], "child-flow": [str(second)]}

    v2 = (await prefect_trio_client.get(f"/flow_runs/{parent['id']}/graph-v2")).json()
    nodes = {node_id: node for node_id, node in v2["nodes"]}
    assert v2["root_node_ids"] == [str(first)]
    assert nodes[str(child)]["kind"] == "flow-run"
    assert nodes[str(child)]["label"] == "the-child"
    assert nodes[str(child)]["parents"] == [{"id": str(second)}]
    assert nodes[str(first)]["children"] == [{"id": str(second)}]
    assert [state["type"] for state in v2["states"]] == ["PENDING"]

    for path in (f"/flow_runs/{MISSING}/graph", f"/flow_runs/{MISSING}/graph-v2"):
        assert (await prefect_trio_client.get(path)).status_code == 404
    bad = await prefect_trio_client.get(f"/flow_runs/{parent['id']}/graph-v2?since=yesterday")
    assert bad.status_code == 422
