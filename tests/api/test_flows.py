"""/flows on SQLite and PostgreSQL: every operation, and its errors."""

from __future__ import annotations

import uuid

import httpx
import pytest

MISSING = str(uuid.UUID(int=0))


async def create(client: httpx.AsyncClient, name: str, **fields: object) -> dict[str, object]:
    response = await client.post("/flows/", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [flow["name"] for flow in response.json()]


async def test_create_is_an_upsert_by_name(prefect_trio_client: httpx.AsyncClient) -> None:
    first = await create(prefect_trio_client, "etl", tags=["nightly"])
    assert {"id", "created", "updated", "name", "tags", "labels"} <= set(first)
    assert str(first["created"]).endswith("Z")
    again = await prefect_trio_client.post("/flows/", json={"name": "etl", "tags": ["other"]})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["tags"] == ["nightly"]
    # Without the trailing slash, and with a field a newer client might add.
    other = await prefect_trio_client.post("/flows", json={"name": "b", "future_field": 1})
    assert other.status_code == 201


async def test_read_by_id_and_name(prefect_trio_client: httpx.AsyncClient) -> None:
    flow = await create(prefect_trio_client, "reader")
    by_id = await prefect_trio_client.get(f"/flows/{flow['id']}")
    by_name = await prefect_trio_client.get("/flows/name/reader")
    assert by_id.json() == by_name.json() == flow


async def test_update_replaces_tags(prefect_trio_client: httpx.AsyncClient) -> None:
    flow = await create(prefect_trio_client, "tagged", tags=["a"])
    response = await prefect_trio_client.patch(f"/flows/{flow['id']}", json={"tags": ["b", "c"]})
    assert response.status_code == 204
    updated = (await prefect_trio_client.get(f"/flows/{flow['id']}")).json()
    assert updated["tags"] == ["b", "c"]
    assert updated["updated"] >= flow["updated"]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({}, ["alpha", "beta", "gamma"]),
        ({"flows": {"name": {"any_": ["beta", "nope"]}}}, ["beta"]),
        ({"flows": {"name": {"like_": "AM"}}}, ["gamma"]),
        ({"flows": {"tags": {"all_": ["x"]}}}, ["alpha", "beta"]),
        ({"flows": {"tags": {"all_": ["x", "y"]}}}, ["alpha"]),
        ({"flows": {"tags": {"is_null_": True}}}, ["gamma"]),
        ({"flows": {"tags": {"is_null_": False}}}, ["alpha", "beta"]),
        (
            {"flows": {"operator": "or_", "name": {"any_": ["gamma"]}, "tags": {"all_": ["y"]}}},
            ["alpha", "gamma"],
        ),
        ({"flows": {"deployment": {"is_null_": True}}}, ["alpha", "beta", "gamma"]),
        ({"flows": {"deployment": {"is_null_": False}}}, []),
        ({"deployments": {}}, []),
        ({"sort": "NAME_DESC"}, ["gamma", "beta", "alpha"]),
        ({"offset": 1, "limit": 1}, ["beta"]),
    ],
    ids=[
        "all",
        "name-any",
        "name-like",
        "tags-all",
        "tags-all-two",
        "tags-null",
        "tags-not-null",
        "or",
        "no-deployment",
        "with-deployment",
        "deployments-filter",
        "sort",
        "offset-limit",
    ],
)
async def test_filter(
    prefect_trio_client: httpx.AsyncClient, criteria: dict[str, object], expected: list[str]
) -> None:
    await create(prefect_trio_client, "alpha", tags=["x", "y"])
    await create(prefect_trio_client, "beta", tags=["x"])
    await create(prefect_trio_client, "gamma")
    assert await names(await prefect_trio_client.post("/flows/filter", json=criteria)) == expected
    count_criteria = {k: v for k, v in criteria.items() if k not in ("sort", "offset", "limit")}
    count = await prefect_trio_client.post("/flows/count", json=count_criteria)
    if "offset" not in criteria:
        assert count.json() == len(expected)


async def test_paginate(prefect_trio_client: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c"):
        await create(prefect_trio_client, name)
    page = (await prefect_trio_client.post("/flows/paginate", json={"limit": 2, "page": 2})).json()
    assert [flow["name"] for flow in page["results"]] == ["c"]
    assert (page["count"], page["limit"], page["pages"], page["page"]) == (3, 2, 2, 2)


async def test_delete_and_bulk_delete(prefect_trio_client: httpx.AsyncClient) -> None:
    doomed = await create(prefect_trio_client, "doomed")
    assert (await prefect_trio_client.delete(f"/flows/{doomed['id']}")).status_code == 204
    assert (await prefect_trio_client.get(f"/flows/{doomed['id']}")).status_code == 404
    for name in ("t1", "t2", "keep"):
        await create(prefect_trio_client, name)
    response = await prefect_trio_client.post(
        "/flows/bulk_delete", json={"flows": {"name": {"like_": "t"}}, "limit": 1}
    )
    assert response.status_code == 200
    assert len(response.json()["deleted"]) == 1
    response = await prefect_trio_client.post(
        "/flows/bulk_delete", json={"flows": {"name": {"like_": "t"}}}
    )
    assert len(response.json()["deleted"]) == 1
    assert await names(await prefect_trio_client.post("/flows/filter")) == ["keep"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/flows/{MISSING}", None),
        ("GET", "/flows/name/missing", None),
        ("PATCH", f"/flows/{MISSING}", {"tags": []}),
        ("DELETE", f"/flows/{MISSING}", None),
    ],
)
async def test_unknown_flows_are_404(
    prefect_trio_client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    response = await prefect_trio_client.request(method, path, json=body)
    assert response.status_code == 404
    assert response.json() == {"exception_message": "Flow not found"}


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("POST", "/flows/", {"name": "bad/name"}, ["body", "name"]),
        ("POST", "/flows/", {"tags": ["no-name"]}, ["body", "name"]),
        ("POST", "/flows/", {"name": "x", "tags": "not-a-list"}, ["body", "tags"]),
        ("GET", "/flows/not-a-uuid", None, ["path", "id"]),
        ("POST", "/flows/filter", {"limit": 10_000}, ["body", "limit"]),
        ("POST", "/flows/filter", {"offset": -1}, ["body", "offset"]),
        ("POST", "/flows/filter", {"sort": "SIDEWAYS"}, ["body", "sort"]),
        ("POST", "/flows/filter", {"flows": {"name": {"unknown_": 1}}}, None),
        ("POST", "/flows/paginate", {"page": 0}, ["body", "page"]),
        ("POST", "/flows/bulk_delete", {"limit": 51}, ["body", "limit"]),
    ],
)
async def test_bad_input_is_422_with_the_field(
    prefect_trio_client: httpx.AsyncClient,
    method: str,
    path: str,
    body: object,
    loc: list[str] | None,
) -> None:
    response = await prefect_trio_client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    detail = response.json()
    assert detail["exception_message"] == "Invalid request received."
    if loc is not None:
        assert detail["exception_detail"][0]["loc"][: len(loc)] == loc


async def test_malformed_json_is_422(prefect_trio_client: httpx.AsyncClient) -> None:
    response = await prefect_trio_client.post(
        "/flows/", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["exception_message"] == "Invalid request received."
    assert (await prefect_trio_client.post("/flows/count")).json() == 0


async def test_list_bodies_take_null_for_defaults_and_ignore_new_fields(
    prefect_trio_client: httpx.AsyncClient,
) -> None:
    await create(prefect_trio_client, "b")
    await create(prefect_trio_client, "a")
    body = {
        "flows": None,
        "flow_runs": None,
        "task_runs": None,
        "deployments": None,
        "work_pools": None,
        "work_queues": None,
        "sort": None,
        "limit": None,
        "offset": None,
    }
    response = await prefect_trio_client.post("/flows/filter", json=body)
    assert await names(response) == ["a", "b"]
