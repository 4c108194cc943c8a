"""Reading events back: /events/filter, /events/filter/next and /events/count-by, on SQLite
and PostgreSQL.

Six events are posted once per test (``dataset``); each filter case sends a filter as on the
wire, inside a window around them, and checks exactly which events come back, in order.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from polling import wait_until_async
from prefect_trio_server.serving.serve import serve
from prefect_trio_server.settings import Settings

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def event_id(n: int) -> str:
    return str(uuid.UUID(int=n))


def event(
    n: int,
    name: str,
    resource: dict[str, str],
    *,
    occurred: dt.datetime,
    related: list[dict[str, str]] | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": event_id(n),
        "occurred": iso(occurred),
        "event": name,
        "resource": resource,
        "related": related or [],
        "payload": payload or {},
    }


FLOW = {"prefect.resource.id": "prefect.flow.A", "prefect.resource.role": "flow"}
DATASET = [
    event(
        0,
        "prefect.flow-run.Scheduled",
        {"prefect.resource.id": "prefect.flow-run.1"},
        occurred=T0 - dt.timedelta(days=1),  # outside every window below
    ),
    event(
        1,
        "prefect.flow-run.Completed",
        {"prefect.resource.id": "prefect.flow-run.1", "prefect.resource.name": "alpha-old"},
        occurred=minutes(1),
        related=[FLOW, {"prefect.resource.id": "prefect.tag.t1", "prefect.resource.role": "tag"}],
        payload={"message": "Connection timeout while polling"},
    ),
    event(
        2,
        "prefect.flow-run.Running",
        {"prefect.resource.id": "prefect.flow-run.1", "prefect.resource.name": "alpha"},
        occurred=minutes(2),
        related=[FLOW],
    ),
    event(
        3,
        "prefect.task-run.Completed",
        {"prefect.resource.id": "prefect.task-run.9", "prefect.resource.name": "task"},
        occurred=minutes(3),
        related=[
            {"prefect.resource.id": "prefect.flow-run.1", "prefect.resource.role": "flow-run"},
            FLOW,
        ],
    ),
    event(
        4,
        "custom.thing_happened",
        {"prefect.resource.id": "acme.widget.1", "color": "red", "prefect.resource.name": "W"},
        occurred=minutes(4),
        related=[
            {
                "prefect.resource.id": "acme.owner.x",
                "prefect.resource.role": "owner",
                "team": "blue",
            }
        ],
        payload={"note": "debug info"},
    ),
    event(
        5,
        "custom.other",
        {"prefect.resource.id": "acme.widget.2", "color": "blue", "prefect.name": "legacy"},
        occurred=minutes(5),
        payload={"note": "an error occurred"},
    ),
    event(6, "Custom.Upper", {"prefect.resource.id": "acme.widget.3"}, occurred=minutes(6)),
]
WINDOW = {"since": iso(minutes(0)), "until": iso(minutes(10))}
IN_WINDOW_DESC = [6, 5, 4, 3, 2, 1]


@pytest.fixture
async def client(prefect_trio_client: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await prefect_trio_client.post("/events", json=DATASET)
    assert response.status_code == 204, response.text
    return prefect_trio_client


async def read(
    client: httpx.AsyncClient, criteria: dict[str, Any] | None, **body: Any
) -> dict[str, Any]:
    response = await client.post("/events/filter", json={"filter": criteria, **body})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def numbers(page: dict[str, Any]) -> list[int]:
    return [uuid.UUID(item["id"]).int for item in page["events"]]


async def found(client: httpx.AsyncClient, criteria: dict[str, Any]) -> list[int]:
    page = await read(client, {"occurred": WINDOW, **criteria})
    assert page["total"] == len(page["events"])
    assert page["next_page"] is None
    return numbers(page)


# ----------------------------------------------------------------------------------- filters


FILTER_CASES: list[tuple[dict[str, Any], list[int]]] = [
    ({}, IN_WINDOW_DESC),
    # event names
    ({"event": {"name": ["prefect.flow-run.Completed"]}}, [1]),
    ({"event": {"name": []}}, IN_WINDOW_DESC),  # an empty list is no criterion
    ({"event": {"prefix": ["prefect.flow-run."]}}, [2, 1]),
    ({"event": {"prefix": ["custom.", "prefect.task"]}}, [5, 4, 3]),
    ({"event": {"prefix": ["custom.thing_"]}}, [4]),
    ({"event": {"prefix": ["custom.thing%"]}}, []),  # % and _ are literal
    ({"event": {"prefix": ["custom_"]}}, []),
    ({"event": {"exclude_prefix": ["prefect.", "Custom"]}}, [5, 4]),
    ({"event": {"exclude_name": ["custom.other", "Custom.Upper"]}}, [4, 3, 2, 1]),
    ({"event": {"prefix": ["custom."], "exclude_name": ["custom.other"]}}, [4]),
    # the primary resource
    ({"resource": {"id": ["acme.widget.1", "prefect.task-run.9"]}}, [4, 3]),
    ({"resource": {"id_prefix": ["acme."]}}, [6, 5, 4]),
    ({"resource": {"labels": {"color": "red"}}}, [4]),
    ({"resource": {"labels": {"color": ["red", "blue"]}}}, [5, 4]),
    ({"resource": {"labels": {"color": "!red"}}}, [5]),  # needs the label
    ({"resource": {"labels": {"color": "bl*"}}}, [5]),
    ({"resource": {"labels": {"color": []}}}, []),
    ({"resource": {"labels": {}}}, IN_WINDOW_DESC),
    ({"resource": {"labels": {"prefect.resource.id": "acme.*"}}}, [6, 5, 4]),
    ({"resource": {"labels": {"prefect.resource.id": "!acme.*"}}}, [3, 2, 1]),
    (
        {"resource": {"labels": {"prefect.resource.id": ["acme.widget.1", "prefect.flow*"]}}},
        [4, 2, 1],
    ),
    ({"resource": {"labels": {"prefect.resource.name": "alpha"}}}, [2]),
    ({"resource": {"labels": {"team": "blue"}}}, []),  # a related resource's label
    # related resources (never the primary one)
    ({"related": {"role": ["flow"]}}, [3, 2, 1]),
    ({"related": {"id": ["prefect.flow-run.1"]}}, [3]),
    ({"related": {"id": ["acme.widget.1"]}}, []),
    ({"related": {"resources_in_roles": [["prefect.flow.A", "flow"]]}}, [3, 2, 1]),
    ({"related": {"resources_in_roles": [["prefect.flow.A", "tag"]]}}, []),
    ({"related": {"labels": {"team": "blue"}}}, [4]),
    ({"related": {"labels": {"prefect.resource.role": "tag"}}}, [1]),
    ({"related": [{"role": ["flow"]}, {"role": ["flow-run"]}]}, [3]),
    ({"related": [{"role": ["flow"]}, {"role": ["owner"]}]}, []),
    ({"related": {}}, IN_WINDOW_DESC),
    ({"related": {"labels": {}}}, IN_WINDOW_DESC),
    # any resource, primary or related
    ({"any_resource": {"id": ["prefect.flow-run.1"]}}, [3, 2, 1]),
    ({"any_resource": {"id_prefix": ["prefect.flow."]}}, [3, 2, 1]),
    ({"any_resource": {"labels": {"prefect.resource.name": ["W", "task"]}}}, [4, 3]),
    ({"any_resource": {"labels": {"prefect.resource.role": "owner"}}}, [4]),
    (
        {"any_resource": [{"id": ["prefect.flow-run.1"]}, {"id_prefix": ["prefect.task"]}]},
        [3],
    ),
    # ids
    ({"id": {"id": [event_id(2), event_id(5), event_id(0)]}}, [5, 2]),
    ({"id": {"id": []}}, IN_WINDOW_DESC),
    # text search: name, resources (values and keys) and payload, case-insensitively
    ({"text": {"query": "TIMEOUT"}}, [1]),
    ({"text": {"query": '"connection timeout"'}}, [1]),
    ({"text": {"query": '"timeout connection"'}}, []),
    ({"text": {"query": "error debug"}}, [5, 4]),
    ({"text": {"query": "occurred -debug"}}, [5]),
    ({"text": {"query": "widget -other -Upper"}}, [4]),
    ({"text": {"query": "+custom +thing"}}, [4]),
    ({"text": {"query": "thing_"}}, [4]),
    ({"text": {"query": "thing%"}}, []),
    ({"text": {"query": "prefect.tag.t1"}}, [1]),
    ({"text": {"query": "   "}}, IN_WINDOW_DESC),
    # everything together
    (
        {
            "event": {"prefix": ["prefect."]},
            "resource": {"id_prefix": ["prefect.flow-run."]},
            "related": {"role": ["tag"]},
            "text": {"query": "polling"},
        },
        [1],
    ),
]
"""Each filter (inside ``WINDOW``) with the events it selects, newest first."""


async def test_filter_criteria(client: httpx.AsyncClient) -> None:
    # One app per database for all the cases: starting one per case costs far more.
    wrong = []
    for criteria, expected in FILTER_CASES:
        got = await found(client, criteria)
        if got != expected:
            wrong.append(f"{criteria}: got {got}, expected {expected}")
    assert wrong == []


async def test_the_page_is_the_wire_shape_of_received_events(client: httpx.AsyncClient) -> None:
    page = await read(client, {"occurred": WINDOW, "id": {"id": [event_id(1)]}})
    assert set(page) == {"events", "total", "next_page"}
    (received,) = page["events"]
    sent = DATASET[1]
    assert {key: received[key] for key in sent} == sent
    assert received["follows"] is None
    assert received["received"].endswith("Z")


async def test_occurred_bounds_are_inclusive(client: httpx.AsyncClient) -> None:
    window = {"since": iso(minutes(2)), "until": iso(minutes(4))}
    assert numbers(await read(client, {"occurred": window})) == [4, 3, 2]
    window = {"since": iso(minutes(2) + MICROSECOND), "until": iso(minutes(4) - MICROSECOND)}
    assert numbers(await read(client, {"occurred": window})) == [3]


async def test_order(client: httpx.AsyncClient) -> None:
    ascending = await read(client, {"occurred": WINDOW, "order": "ASC"})
    assert numbers(ascending) == IN_WINDOW_DESC[::-1]
    descending = await read(client, {"occurred": WINDOW, "order": "DESC"})
    assert numbers(descending) == IN_WINDOW_DESC
    assert (await client.post("/events/filter", json={"filter": {"order": "UP"}})).status_code == (
        422
    )


async def test_distinct_resources(client: httpx.AsyncClient) -> None:
    distinct = {"occurred": WINDOW, "resource": {"distinct": True}}
    newest = await read(client, distinct)
    assert numbers(newest) == [6, 5, 4, 3, 2]  # flow-run.1: its latest event only
    assert newest["total"] == 5
    oldest = await read(client, {**distinct, "order": "ASC"})
    assert numbers(oldest) == [1, 3, 4, 5, 6]
    paged = await read(client, distinct, limit=2)
    assert (numbers(paged), paged["total"]) == ([6, 5], 5)
    rest = await follow(client, paged["next_page"])
    assert [n for page in rest for n in numbers(page)] == [4, 3, 2]


async def test_default_window_is_180_days_up_to_now(
    prefect_trio_client: httpx.AsyncClient,
) -> None:
    now = dt.datetime.now(dt.UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    batch = [
        event(1, "recent", {"prefect.resource.id": "r"}, occurred=now - dt.timedelta(hours=1)),
        event(2, "old", {"prefect.resource.id": "r"}, occurred=today - dt.timedelta(days=179)),
        event(3, "too-old", {"prefect.resource.id": "r"}, occurred=today - dt.timedelta(days=181)),
        event(4, "future", {"prefect.resource.id": "r"}, occurred=now + dt.timedelta(days=1)),
    ]
    assert (await prefect_trio_client.post("/events", json=batch)).status_code == 204
    for criteria in (None, {}, {"occurred": None}, {"event": {"prefix": [""]}}):
        page = await read(prefect_trio_client, criteria)
        assert (numbers(page), page["total"]) == ([1, 2], 2), criteria
    no_body = await prefect_trio_client.post("/events/filter")
    assert no_body.status_code == 200, no_body.text
    assert numbers(no_body.json()) == [1, 2]
    # Only ``since`` given: up to now still.
    page = await read(prefect_trio_client, {"occurred": {"since": iso(today - dt.timedelta(365))}})
    assert numbers(page) == [1, 2, 3]


# ------------------------------------------------------------------------------------ paging


async def follow(client: httpx.AsyncClient, url: str | None) -> list[dict[str, Any]]:
    """Every page from ``url`` on, following ``next_page`` until it is null."""
    pages = []
    for _ in range(100):
        if url is None:
            return pages
        response = await client.get(url)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = pages[-1]["next_page"]
    raise AssertionError("next_page never ended")


async def test_paging_until_exhausted(prefect_trio_client: httpx.AsyncClient) -> None:
    batch = [
        event(n, f"tick.{n}", {"prefect.resource.id": "clock"}, occurred=minutes(n // 2))
        for n in range(1, 24)
    ]  # pairs share an ``occurred``: the id breaks the tie
    assert (await prefect_trio_client.post("/events", json=batch)).status_code == 204
    window = {"since": iso(minutes(0)), "until": iso(minutes(60))}
    for order, expected in (("DESC", list(range(23, 0, -1))), ("ASC", list(range(1, 24)))):
        first = await read(prefect_trio_client, {"occurred": window, "order": order}, limit=5)
        assert first["next_page"].startswith(
            "http://prefect-trio-server/api/events/filter/next?page-token="
        )
        if order == "DESC":
            # Something arriving meanwhile does not move the pages (the window is fixed).
            late = event(99, "late", {"prefect.resource.id": "clock"}, occurred=minutes(61))
            assert (await prefect_trio_client.post("/events", json=[late])).status_code == 204
        pages = [first, *await follow(prefect_trio_client, first["next_page"])]
        assert [len(page["events"]) for page in pages] == [5, 5, 5, 5, 3]
        assert {page["total"] for page in pages} == {23}
        assert [n for page in pages for n in numbers(page)] == expected


async def test_exact_multiple_of_the_page_size_has_no_empty_last_page(
    client: httpx.AsyncClient,
) -> None:
    first = await read(client, {"occurred": WINDOW}, limit=3)
    pages = [first, *await follow(client, first["next_page"])]
    assert [numbers(page) for page in pages] == [[6, 5, 4], [3, 2, 1]]


async def test_limit_bounds(client: httpx.AsyncClient) -> None:
    for limit, status in [(0, 200), (1, 200), (6, 200), (50, 200), (51, 422), (-1, 422)]:
        body = {"filter": {"occurred": WINDOW}, "limit": limit}
        response = await client.post("/events/filter", json=body)
        assert response.status_code == status, (limit, response.text)
        if status == 422:
            assert response.json()["exception_detail"][0]["loc"] == ["body", "limit"]
            continue
        page = response.json()
        assert len(page["events"]) == min(limit, 6)
        assert page["total"] == 6
        assert (page["next_page"] is None) == (limit in (0, 6, 50)), limit


def _token(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


BAD_TOKENS = [
    "not a token!",
    "%%%",
    base64.urlsafe_b64encode(b"\xff\xfe not json").decode(),
    _token([1, 2, 3]),
    _token({"filter": {}, "count": 9, "page_size": 500, "offset": 5}),  # page too big
    _token({"filter": {}, "count": 9, "page_size": 0, "offset": 5}),
    _token({"filter": {"bogus": 1}, "count": 9, "page_size": 5, "offset": 5}),
    _token({"filter": {}, "count": 9, "page_size": 5}),
    _token({"filter": {}, "count": 9, "page_size": 5, "offset": 5, "extra": 1}),
]


async def test_bad_page_token_is_403(client: httpx.AsyncClient) -> None:
    for token in BAD_TOKENS:
        response = await client.get("/events/filter/next", params={"page-token": token})
        assert response.status_code == 403, (token, response.text)
        assert response.json()["detail"].startswith("Invalid page token"), token


async def test_garbled_next_page_url_is_403_and_missing_token_is_422(
    client: httpx.AsyncClient,
) -> None:
    first = await read(client, {"occurred": WINDOW}, limit=2)
    truncated = first["next_page"][:-7]
    assert (await client.get(truncated)).status_code == 403
    missing = await client.get("/events/filter/next")
    assert missing.status_code == 422
    assert missing.json()["exception_detail"][0]["loc"] == ["query", "page-token"]


# -------------------------------------------------------------------------------- validation


BAD_FILTERS: list[tuple[dict[str, Any], list[Any]]] = [
    ({"filter": {"bogus": {}}}, ["body", "filter", "bogus"]),
    ({"filter": {"event": {"nam": ["x"]}}}, ["body", "filter", "event", "nam"]),
    ({"filter": {"occurred": {"after": iso(T0)}}}, ["body", "filter", "occurred", "after"]),
    ({"filter": {"resource": {"ids": ["x"]}}}, ["body", "filter", "resource", "ids"]),
    ({"filter": {"id": {"id": ["not-a-uuid"]}}}, ["body", "filter", "id", "id", 0]),
    ({"filter": {"text": {"query": "x" * 201}}}, ["body", "filter", "text", "query"]),
    ({"filter": {"text": {}}}, ["body", "filter", "text", "query"]),
    ({"filter": {"related": {"resources_in_roles": [["a"]]}}}, ["body", "filter", "related"]),
    ({"filter": {"any_resource": [{"labels": {"a": 1}}]}}, ["body", "filter", "any_resource"]),
]


async def test_bad_filters_are_422_naming_the_field(client: httpx.AsyncClient) -> None:
    for body, loc in BAD_FILTERS:
        for path in ("/events/filter", "/events/count-by/event"):
            response = await client.post(path, json=body)
            assert response.status_code == 422, (path, body, response.text)
            assert response.json()["exception_detail"][0]["loc"][: len(loc)] == loc, body


# -------------------------------------------------------------------------------------- counts


async def count_by(
    client: httpx.AsyncClient, countable: str, criteria: dict[str, Any], **body: Any
) -> list[dict[str, Any]]:
    response = await client.post(f"/events/count-by/{countable}", json={"filter": criteria, **body})
    assert response.status_code == 200, response.text
    counts: list[dict[str, Any]] = response.json()
    return counts


async def test_count_by_event(client: httpx.AsyncClient) -> None:
    more = [
        event(7, "custom.other", {"prefect.resource.id": "acme.widget.2"}, occurred=minutes(7)),
        event(8, "custom.other", {"prefect.resource.id": "acme.widget.2"}, occurred=minutes(8)),
    ]
    assert (await client.post("/events", json=more)).status_code == 204
    counts = await count_by(client, "event", {"occurred": WINDOW})
    assert [(c["value"], c["label"], c["count"]) for c in counts] == [
        ("custom.other", "custom.other", 3),
        ("Custom.Upper", "Custom.Upper", 1),
        ("custom.thing_happened", "custom.thing_happened", 1),
        ("prefect.flow-run.Completed", "prefect.flow-run.Completed", 1),
        ("prefect.flow-run.Running", "prefect.flow-run.Running", 1),
        ("prefect.task-run.Completed", "prefect.task-run.Completed", 1),
    ]
    assert (counts[0]["start_time"], counts[0]["end_time"]) == (iso(minutes(5)), iso(minutes(8)))
    filtered = await count_by(client, "event", {"occurred": WINDOW, "event": {"prefix": ["p"]}})
    assert [c["value"] for c in filtered] == [
        "prefect.flow-run.Completed",
        "prefect.flow-run.Running",
        "prefect.task-run.Completed",
    ]


async def test_count_by_resource(client: httpx.AsyncClient) -> None:
    counts = await count_by(client, "resource", {"occurred": WINDOW})
    assert [(c["value"], c["label"], c["count"]) for c in counts] == [
        ("prefect.flow-run.1", "alpha", 2),  # the label of its latest event
        ("acme.widget.1", "W", 1),  # then by label, in code point order
        ("acme.widget.3", "acme.widget.3", 1),  # no name: the id
        ("acme.widget.2", "legacy", 1),  # prefect.name
        ("prefect.task-run.9", "task", 1),
    ]
    flow_run = counts[0]
    assert (flow_run["start_time"], flow_run["end_time"]) == (iso(minutes(1)), iso(minutes(2)))
    related = await count_by(
        client, "resource", {"occurred": WINDOW, "related": {"role": ["flow"]}}
    )
    assert [(c["value"], c["count"]) for c in related] == [
        ("prefect.flow-run.1", 2),
        ("prefect.task-run.9", 1),
    ]


async def test_count_by_time(client: httpx.AsyncClient) -> None:
    # Two-minute buckets from the pivot (a midnight): [0, 2), [2, 4), [4, 6) minutes past T0.
    window = {"since": iso(minutes(0)), "until": iso(minutes(6) - MICROSECOND)}
    counts = await count_by(
        client, "time", {"occurred": window}, time_unit="minute", time_interval=2
    )
    assert counts == [
        {
            "value": str(i),
            "label": minutes(2 * i).isoformat(),
            "count": expected,
            "start_time": iso(minutes(2 * i)),
            "end_time": iso(minutes(2 * i + 2) - MICROSECOND),
        }
        for i, expected in enumerate([1, 2, 2])
    ]
    # ``since`` inside a bucket: the whole bucket is listed; an event at exactly ``until``,
    # which starts a bucket, gets that bucket too.
    window = {"since": iso(minutes(1.5)), "until": iso(minutes(6))}
    counts = await count_by(
        client, "time", {"occurred": window}, time_unit="minute", time_interval=2
    )
    assert [(c["value"], c["start_time"], c["count"]) for c in counts] == [
        ("0", iso(minutes(0)), 0),
        ("1", iso(minutes(2)), 2),
        ("2", iso(minutes(4)), 2),
        ("3", iso(minutes(6)), 1),
    ]
    half_hours = await count_by(
        client, "time", {"occurred": WINDOW}, time_unit="hour", time_interval=0.5
    )
    assert [(c["start_time"], c["count"]) for c in half_hours] == [(iso(T0), 6)]


async def test_count_by_day(client: httpx.AsyncClient) -> None:
    day = T0.replace(hour=0)
    extra = event(9, "next-day", {"prefect.resource.id": "x"}, occurred=day + dt.timedelta(1.5))
    assert (await client.post("/events", json=[extra])).status_code == 204
    window = {"since": iso(day), "until": iso(day + dt.timedelta(days=3))}
    # ``day`` ignores time_unit and time_interval.
    counts = await count_by(client, "day", {"occurred": window}, time_unit="hour")
    assert [(c["value"], c["label"], c["count"]) for c in counts] == [
        ("0", day.isoformat(), 6),
        ("1", (day + dt.timedelta(days=1)).isoformat(), 1),
        ("2", (day + dt.timedelta(days=2)).isoformat(), 0),
    ]
    assert counts[0]["end_time"] == iso(day + dt.timedelta(days=1) - MICROSECOND)
    # The event a day earlier (``DATASET[0]``) is found with a wider window.
    wider = {**window, "since": iso(day - dt.timedelta(days=3))}
    counts = await count_by(client, "day", {"occurred": wider})
    assert [c["count"] for c in counts] == [0, 0, 1, 6, 1, 0]


async def test_count_by_time_up_to_a_future_until_ends_with_the_current_unit(
    client: httpx.AsyncClient,
) -> None:
    before = dt.datetime.now(dt.UTC)
    window = {"since": iso(before - dt.timedelta(days=2)), "until": iso(before + dt.timedelta(30))}
    counts = await count_by(client, "time", {"occurred": window}, time_unit="day")
    after = dt.datetime.now(dt.UTC)
    last = counts[-1]
    assert dt.datetime.fromisoformat(last["start_time"]) <= after
    assert dt.datetime.fromisoformat(last["end_time"]) >= before
    assert last["end_time"].endswith("23:59:59.999999Z")
    assert len(counts) == 3


async def test_count_by_refusals(client: httpx.AsyncClient) -> None:
    for path, body, status in [
        # Over 1000 buckets (180 days of seconds), for every countable, as in Prefect.
        ("time", {"filter": {}, "time_unit": "second"}, 422),
        ("event", {"filter": {}, "time_unit": "hour"}, 422),
        ("day", {"filter": {}}, 200),
        ("time", {"filter": {}, "time_interval": 0.001}, 422),
        ("time", {"filter": {}, "time_unit": "fortnight"}, 422),
        ("bogus", {"filter": {}}, 422),
        ("event", {}, 422),
    ]:
        response = await client.post(f"/events/count-by/{path}", json=body)
        assert response.status_code == status, (path, body, response.text)


async def test_count_by_refusal_explains_the_bucket_limit(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/events/count-by/time", json={"filter": {}, "time_unit": "second"}
    )
    assert response.status_code == 422
    assert "buckets, which is too many" in response.json()["detail"]


# ------------------------------------------------------------------- events from the websocket


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[str]:
    """The server on an ephemeral port; yields its ``http://.../api`` URL."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:

        async def run(task_status: trio.TaskStatus[list[str]]) -> None:
            await serve(settings, shutdown_trigger=shutdown.wait, task_status=task_status)

        urls: list[str] = await nursery.start(run)
        try:
            yield urls[0] + "/api"
        finally:
            shutdown.set()


async def test_events_from_the_websocket_and_post_are_found(
    prefect_trio_settings: Settings,
) -> None:
    settings = prefect_trio_settings.model_copy(update={"port": 0})
    streamed = DATASET[1:4]
    posted = DATASET[4:]
    async with running_server(settings) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.post("/events", json=posted)).status_code == 204
        ws_url = url.replace("http", "ws", 1) + "/events/in"
        async with open_websocket_url(ws_url, subprotocols=["prefect"]) as ws:
            await ws.send_message(json.dumps({"type": "auth", "token": None}))
            assert json.loads(await ws.get_message()) == {"type": "auth_success"}
            for item in streamed:
                await ws.send_message(json.dumps(item))

        page: dict[str, Any] = {}

        async def all_stored() -> bool:
            nonlocal page
            page = await read(client, {"occurred": WINDOW}, limit=4)
            return bool(page["total"] == 6)

        await wait_until_async(all_stored)
        assert page["next_page"].startswith(f"{url}/events/filter/next?page-token=")
        pages = [page, *await follow(client, page["next_page"])]
        assert [n for p in pages for n in numbers(p)] == IN_WINDOW_DESC
        counts = await count_by(client, "resource", {"occurred": WINDOW})
        assert sum(c["count"] for c in counts) == 6
