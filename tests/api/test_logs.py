"""POST /logs/ and /logs/filter, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from prefect_trio_server.database.filters.logs import TextQuery, parse_text_query

FLOW_RUN_A = str(uuid.uuid4())
FLOW_RUN_B = str(uuid.uuid4())
TASK_RUN = str(uuid.uuid4())
BASE = dt.datetime(2026, 11, 24, 22, 37, 32, tzinfo=dt.UTC)


def _at(seconds: float) -> str:
    return (BASE + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _log(
    message: str,
    *,
    seconds: float = 0,
    level: int = 20,
    name: str = "prefect.flow_runs",
    flow_run_id: str | None = FLOW_RUN_A,
    task_run_id: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "level": level,
        "message": message,
        "timestamp": _at(seconds),
        "flow_run_id": flow_run_id,
        "task_run_id": task_run_id,
    }


BATCH = [
    _log("Beginning flow run 'aloof-mouflon'", seconds=0),
    _log("debug detail", seconds=1, level=10),
    _log(
        "Finished in state Completed()",
        seconds=2,
        name="prefect.task_runs",
        task_run_id=TASK_RUN,
    ),
    _log("Connection timeout, retrying", seconds=3, level=30),
    _log("Crash!", seconds=4, level=40),
    _log("other flow run", seconds=5, flow_run_id=FLOW_RUN_B),
]


async def _create(client: httpx.AsyncClient, logs: Any, path: str = "/logs/") -> httpx.Response:
    return await client.post(path, json=logs)


async def _filter(client: httpx.AsyncClient, **body: Any) -> list[dict[str, Any]]:
    response = await client.post("/logs/filter", json=body)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def _messages(logs: list[dict[str, Any]]) -> list[str]:
    return [item["message"] for item in logs]


@pytest.fixture
async def stored(prefect_trio_client: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await _create(prefect_trio_client, BATCH)
    assert response.status_code == 201
    return prefect_trio_client


async def test_create_is_201_with_a_null_body(prefect_trio_client: httpx.AsyncClient):
    response = await _create(prefect_trio_client, BATCH[:2])
    assert response.status_code == 201
    assert response.content == b"null"
    # Without the trailing slash too, with no redirect.
    response = await _create(prefect_trio_client, BATCH[2:3], path="/logs")
    assert response.status_code == 201
    assert len(await _filter(prefect_trio_client)) == 3


async def test_empty_batch_is_fine(prefect_trio_client: httpx.AsyncClient):
    response = await _create(prefect_trio_client, [])
    assert response.status_code == 201
    assert await _filter(prefect_trio_client) == []


async def test_read_back_in_the_wire_shape(stored: httpx.AsyncClient):
    logs = await _filter(stored)
    assert _messages(logs) == [item["message"] for item in BATCH]
    first = logs[2]
    assert set(first) == {
        "id",
        "created",
        "updated",
        "name",
        "level",
        "message",
        "timestamp",
        "flow_run_id",
        "task_run_id",
    }
    uuid.UUID(first["id"])
    assert first["created"].endswith("Z")
    assert first["updated"].endswith("Z")
    assert first["timestamp"] == "2026-11-24T22:37:34Z"
    assert first["name"] == "prefect.task_runs"
    assert first["level"] == 20
    assert first["flow_run_id"] == FLOW_RUN_A
    assert first["task_run_id"] == TASK_RUN
    assert logs[0]["task_run_id"] is None


async def test_timestamps_are_normalised_to_utc(prefect_trio_client: httpx.AsyncClient):
    item = _log("offset")
    item["timestamp"] = "2026-11-24T23:37:32.5+01:00"
    assert (await _create(prefect_trio_client, [item])).status_code == 201
    (stored,) = await _filter(prefect_trio_client)
    assert stored["timestamp"] == "2026-11-24T22:37:32.500000Z"


async def test_filter_by_flow_run_id(stored: httpx.AsyncClient):
    logs = await _filter(stored, logs={"flow_run_id": {"any_": [FLOW_RUN_B]}})
    assert _messages(logs) == ["other flow run"]
    logs = await _filter(stored, logs={"flow_run_id": {"any_": [FLOW_RUN_A, FLOW_RUN_B]}})
    assert len(logs) == 6
    assert await _filter(stored, logs={"flow_run_id": {"any_": []}}) == []


async def test_filter_by_level(stored: httpx.AsyncClient):
    logs = await _filter(stored, logs={"level": {"ge_": 30}})
    assert _messages(logs) == ["Connection timeout, retrying", "Crash!"]
    logs = await _filter(stored, logs={"level": {"le_": 10}})
    assert _messages(logs) == ["debug detail"]
    logs = await _filter(stored, logs={"level": {"ge_": 20, "le_": 30}})
    assert len(logs) == 4
    # Bounds beyond the column's range are fine to ask about.
    assert await _filter(stored, logs={"level": {"ge_": 10**9}}) == []
    assert await _filter(stored, logs={"level": {"le_": -(10**9)}}) == []
    assert len(await _filter(stored, logs={"level": {"ge_": -(10**9), "le_": 10**9}})) == 6


async def test_filter_by_timestamp_inclusive(stored: httpx.AsyncClient):
    logs = await _filter(stored, logs={"timestamp": {"after_": _at(1), "before_": _at(3)}})
    assert [item["timestamp"] for item in logs] == [_at(1), _at(2), _at(3)]
    # Another offset, and a space separator: the same instant.
    local = (BASE + dt.timedelta(seconds=4)).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    logs = await _filter(stored, logs={"timestamp": {"after_": str(local)}})
    assert _messages(logs) == ["Crash!", "other flow run"]


async def test_filter_by_task_run_id(stored: httpx.AsyncClient):
    logs = await _filter(stored, logs={"task_run_id": {"is_null_": False}})
    assert _messages(logs) == ["Finished in state Completed()"]
    logs = await _filter(stored, logs={"task_run_id": {"is_null_": True}})
    assert len(logs) == 5
    assert TASK_RUN not in [item["task_run_id"] for item in logs]
    logs = await _filter(stored, logs={"task_run_id": {"any_": [TASK_RUN]}})
    assert _messages(logs) == ["Finished in state Completed()"]


async def test_criteria_combine_with_the_operator(stored: httpx.AsyncClient):
    both = {"level": {"ge_": 40}, "flow_run_id": {"any_": [FLOW_RUN_B]}}
    assert await _filter(stored, logs=both) == []
    either = await _filter(stored, logs={**both, "operator": "or_"})
    assert _messages(either) == ["Crash!", "other flow run"]


async def test_text_search(stored: httpx.AsyncClient):
    async def search(query: str) -> list[str]:
        return _messages(await _filter(stored, logs={"text": {"query": query}}))

    assert await search("CRASH") == ["Crash!"]
    assert await search("crash debug") == ["debug detail", "Crash!"]
    assert await search('"connection timeout"') == ["Connection timeout, retrying"]
    assert await search('"timeout connection"') == []
    assert await search("state crash -completed") == ["Crash!"]
    assert await search("+flow +aloof !other") == ["Beginning flow run 'aloof-mouflon'"]
    assert await search("+flow +aloof !mouflon") == []
    # The logger name is searched too.
    assert await search("task_runs") == ["Finished in state Completed()"]
    # LIKE wildcards are literal.
    assert await search("%") == []
    assert len(await search("   ")) == 6


async def test_sort_and_pages(stored: httpx.AsyncClient):
    ascending = await _filter(stored, sort="TIMESTAMP_ASC")
    descending = await _filter(stored, sort="TIMESTAMP_DESC")
    assert [item["timestamp"] for item in ascending] == [_at(s) for s in range(6)]
    assert descending == ascending[::-1]
    page = await _filter(stored, offset=1, limit=2, sort="TIMESTAMP_DESC")
    assert page == descending[1:3]
    assert await _filter(stored, offset=10) == []
    assert await _filter(stored, limit=0) == []


async def test_ties_on_timestamp_page_stably(prefect_trio_client: httpx.AsyncClient):
    same = [_log(f"tick {n}") for n in range(7)]
    assert (await _create(prefect_trio_client, same)).status_code == 201
    whole = await _filter(prefect_trio_client)
    pages = [
        item
        for offset in range(0, 7, 3)
        for item in await _filter(prefect_trio_client, offset=offset, limit=3)
    ]
    assert pages == whole
    assert sorted(_messages(whole)) == sorted(item["message"] for item in same)


async def test_limit_defaults_to_and_is_capped_by_the_setting(
    prefect_trio_client: httpx.AsyncClient, prefect_trio_settings: Any
):
    maximum = prefect_trio_settings.api_default_limit
    many = [_log(f"line {n}", seconds=n / 1000) for n in range(maximum + 5)]
    assert (await _create(prefect_trio_client, many)).status_code == 201
    assert len(await _filter(prefect_trio_client)) == maximum

    response = await prefect_trio_client.post("/logs/filter", json={"limit": maximum + 1})
    assert response.status_code == 422
    assert response.json() == {"detail": f"Invalid limit: must be less than or equal to {maximum}."}
    response = await prefect_trio_client.post("/logs/filter", json={"limit": -1})
    assert response.status_code == 422
    assert "limit" in response.json()["detail"]


async def test_large_batch_is_stored_whole(prefect_trio_client: httpx.AsyncClient):
    many = [_log(f"line {n}", seconds=n / 1000) for n in range(2500)]
    assert (await _create(prefect_trio_client, many)).status_code == 201
    last = await _filter(prefect_trio_client, sort="TIMESTAMP_DESC", limit=1)
    assert _messages(last) == ["line 2499"]
    assert len(await _filter(prefect_trio_client, offset=2400, limit=200)) == 100


async def test_nul_characters_are_dropped(prefect_trio_client: httpx.AsyncClient):
    item = _log("before\x00after", name="my\x00logger")
    assert (await _create(prefect_trio_client, [item])).status_code == 201
    (stored,) = await _filter(prefect_trio_client)
    assert stored["message"] == "beforeafter"
    assert stored["name"] == "mylogger"


def _assert_prefect_422(response: httpx.Response, loc: list[Any], body: Any) -> None:
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["exception_message"] == "Invalid request received."
    assert loc in [error["loc"] for error in payload["exception_detail"]]
    assert payload["request_body"] == body


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        pytest.param({"name": "x"}, ["body"], id="not-a-list"),
        pytest.param([{**BATCH[0], "level": "loud"}], ["body", 0, "level"], id="wrong-type"),
        pytest.param(
            [BATCH[0], {k: v for k, v in BATCH[1].items() if k != "message"}],
            ["body", 1, "message"],
            id="missing-field",
        ),
        pytest.param(
            [BATCH[0], {**BATCH[1], "timestamp": "yesterday"}],
            ["body", 1, "timestamp"],
            id="bad-timestamp",
        ),
        pytest.param(
            [BATCH[0], {**BATCH[1], "flow_run_id": "not-a-uuid"}],
            ["body", 1, "flow_run_id"],
            id="bad-uuid",
        ),
        pytest.param(
            [BATCH[0], {**BATCH[1], "level": 10**6}], ["body", 1, "level"], id="level-range"
        ),
    ],
)
async def test_malformed_batch_is_422_and_stores_nothing(
    prefect_trio_client: httpx.AsyncClient, body: Any, loc: list[Any]
):
    response = await _create(prefect_trio_client, body)
    _assert_prefect_422(response, loc, body)
    assert await _filter(prefect_trio_client) == []


async def test_invalid_json_is_422(prefect_trio_client: httpx.AsyncClient):
    response = await prefect_trio_client.post(
        "/logs/", content=b"[{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["exception_message"] == "Invalid request received."


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        pytest.param({"offset": -1}, ["body", "offset"], id="negative-offset"),
        pytest.param({"sort": "NAME_ASC"}, ["body", "sort"], id="unknown-sort"),
        pytest.param({"logs": {"level": {"gt_": 3}}}, ["body", "logs", "level", "gt_"], id="x"),
        pytest.param({"logs": {"text": {"query": "x" * 201}}}, ["body", "logs", "text", "query"]),
        pytest.param({"limit": "many"}, ["body", "limit"], id="limit-type"),
    ],
)
async def test_malformed_filter_is_422(
    prefect_trio_client: httpx.AsyncClient, body: dict[str, Any], loc: list[Any]
):
    response = await prefect_trio_client.post("/logs/filter", json=body)
    _assert_prefect_422(response, loc, body)


async def test_filter_with_no_body(stored: httpx.AsyncClient):
    response = await stored.post("/logs/filter")
    assert response.status_code == 200
    assert len(response.json()) == 6


async def test_openapi_lists_the_routes(prefect_trio_client: httpx.AsyncClient):
    paths = (await prefect_trio_client.get("/openapi.json")).json()["paths"]
    assert "post" in paths["/logs/"]
    assert "post" in paths["/logs/filter"]
    assert "/logs" not in paths


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("error", TextQuery(include=["error"])),
        ("error -debug", TextQuery(include=["error"], exclude=["debug"])),
        ('"connection timeout"', TextQuery(include=["connection timeout"])),
        ("+required -excluded", TextQuery(required=["required"], exclude=["excluded"])),
        ('!"a b" +"c\\"d"', TextQuery(exclude=["a b"], required=['c"d'])),
        ("- lone + prefixes !", TextQuery(include=["lone", "prefixes"])),
        ('"unclosed phrase', TextQuery(include=["unclosed phrase"])),
        ('a"b c"', TextQuery(include=["a", "b c"])),
        ('"" "  "', TextQuery()),
        ("--x", TextQuery(exclude=["-x"])),
        ('"back\\\\slash"', TextQuery(include=["back\\slash"])),
    ],
)
def test_parse_text_query(query: str, expected: TextQuery):
    assert parse_text_query(query) == expected
