"""The event read models against Prefect 3.9.1's OpenAPI; page tokens and time buckets (no I/O)."""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from prefect_trio_server.app.api_app import build_api_app
from prefect_trio_server.errors import InvalidRequestError
from prefect_trio_server.models.event_counts import (
    PIVOT,
    bucket_spans,
    bucket_width,
    check_buckets,
    end_of,
)
from prefect_trio_server.models.event_queries import (
    InvalidPageTokenError,
    PageToken,
    decode_page_token,
    encode_page_token,
    next_page_token,
)
from prefect_trio_server.schemas import event_filters, event_pages
from prefect_trio_server.schemas.event_filters import EventFilter
from prefect_trio_server.schemas.event_pages import TimeUnit
from prefect_trio_server.settings import Settings

REFERENCE = Path(__file__).parents[3] / "shared/reference/prefect-3.9.1-openapi.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FILTERS = [
    "EventAnyResourceFilter",
    "EventFilter",
    "EventIDFilter",
    "EventNameFilter",
    "EventOccurredFilter",
    "EventRelatedFilter",
    "EventResourceFilter",
    "EventTextFilter",
]
RESPONSES = ["EventCount", "EventPage"]
ENUMS = ["Countable", "EventOrder", "TimeUnit"]
T = dt.datetime(2026, 6, 3, 15, 42, 7, 123456, tzinfo=dt.UTC)  # a Wednesday


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not REFERENCE.is_file():
        if IN_CI:
            pytest.fail(f"reference OpenAPI file missing: {REFERENCE}")
        pytest.skip(f"reference OpenAPI file not available: {REFERENCE}")
    spec: dict[str, Any] = json.loads(REFERENCE.read_text())
    return spec


def _model(name: str) -> type[BaseModel]:
    model = getattr(event_filters, name, None) or getattr(event_pages, name)
    assert issubclass(model, BaseModel)
    return model


@pytest.mark.parametrize("name", FILTERS + RESPONSES)
def test_models_match_the_reference(reference: dict[str, Any], name: str) -> None:
    theirs = reference["components"]["schemas"][name]
    ours = _model(name).model_json_schema()
    assert set(ours["properties"]) == set(theirs["properties"])
    assert set(ours.get("required", [])) == set(theirs.get("required", []))
    assert ours.get("additionalProperties") == theirs.get("additionalProperties")
    for field, schema in theirs["properties"].items():
        assert ours["properties"][field].get("default") == schema.get("default"), field
        assert ours["properties"][field].get("maxLength") == schema.get("maxLength"), field


@pytest.mark.parametrize("name", ENUMS)
def test_enums_match_the_reference(reference: dict[str, Any], name: str) -> None:
    values = reference["components"]["schemas"][name]["enum"]
    enum_type = getattr(event_filters, name, None) or getattr(event_pages, name)
    assert issubclass(enum_type, enum.Enum)
    assert [member.value for member in enum_type] == values


def test_operations_match_the_reference(reference: dict[str, Any], tmp_path: Path) -> None:
    ours = build_api_app(Settings(home=tmp_path)).openapi()
    for path, method in [
        ("/events/filter", "post"),
        ("/events/filter/next", "get"),
        ("/events/count-by/{countable}", "post"),
    ]:
        theirs = reference["paths"][path][method]
        mine = ours["paths"][path][method]
        assert mine["operationId"] == theirs["operationId"]
        params = {(p["in"], p["name"], p.get("required", False)) for p in mine["parameters"]}
        assert params == {
            (p["in"], p["name"], p.get("required", False)) for p in theirs["parameters"]
        }
        if "requestBody" in theirs:
            name = theirs["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = reference["components"]["schemas"][name.rsplit("/", 1)[-1]]
            mine_ref = mine["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            mine_body = ours["components"]["schemas"][mine_ref.rsplit("/", 1)[-1]]
            assert set(mine_body["properties"]) == set(body["properties"])
            assert set(mine_body.get("required", [])) == set(body.get("required", []))
            for field, schema in body["properties"].items():
                for keyword in ("default", "minimum", "maximum"):
                    assert mine_body["properties"][field].get(keyword) == schema.get(keyword)


# ------------------------------------------------------------------------------- the filter


def test_filter_defaults_are_prefects() -> None:
    before = dt.datetime.now(dt.UTC)
    criteria = EventFilter()
    after = dt.datetime.now(dt.UTC)
    assert before <= criteria.occurred.until <= after
    start_of_today = before.replace(hour=0, minute=0, second=0, microsecond=0)
    assert criteria.occurred.since in (
        start_of_today - dt.timedelta(days=180),
        after.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=180),
    )
    assert criteria.order == "DESC"
    assert criteria.id.id is None
    assert EventFilter.model_validate({"occurred": None, "id": None}).id.id is None


def test_single_and_listed_sub_filters() -> None:
    one = EventFilter.model_validate({"related": {"role": ["flow"]}, "any_resource": {"id": ["a"]}})
    many = EventFilter.model_validate(
        {"related": [{"role": ["flow"]}, {"id": ["x"]}], "any_resource": [{"id": ["a"]}]}
    )
    assert [f.role for f in one.related_filters()] == [["flow"]]
    assert len(many.related_filters()) == 2
    assert [f.id for f in one.any_resource_filters()] == [f.id for f in many.any_resource_filters()]
    assert EventFilter().related_filters() == EventFilter().any_resource_filters() == []


# ------------------------------------------------------------------------------- page tokens


def test_page_tokens_round_trip_and_are_url_safe() -> None:
    criteria = EventFilter.model_validate({"event": {"prefix": ["a+b/c?"]}, "order": "ASC"})
    token = next_page_token(criteria, count=120, page_size=50, offset=50)
    assert token == PageToken(filter=criteria, count=120, page_size=50, offset=100)
    text = encode_page_token(token)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_page_token(text) == token
    # The time window travels as it was: later pages see the same one.
    assert decode_page_token(text).filter.occurred == criteria.occurred


def test_last_pages_have_no_token() -> None:
    criteria = EventFilter()
    assert next_page_token(criteria, count=100, page_size=50, offset=50) is None
    assert next_page_token(criteria, count=10, page_size=50, offset=0) is None
    assert next_page_token(criteria, count=10, page_size=0, offset=0) is None
    assert next_page_token(criteria, count=0, page_size=5, offset=0) is None


@pytest.mark.parametrize("text", ["", "!!", "e30", "bnVsbA", "W10"])  # "", {}, null, []
def test_bad_tokens(text: str) -> None:
    with pytest.raises(InvalidPageTokenError):
        decode_page_token(text)


# ------------------------------------------------------------------------------ time buckets


def test_end_of() -> None:
    assert end_of(TimeUnit.second, T) == T.replace(microsecond=999_999)
    assert end_of(TimeUnit.minute, T) == T.replace(second=59, microsecond=999_999)
    assert end_of(TimeUnit.hour, T) == T.replace(minute=59, second=59, microsecond=999_999)
    end_of_day = T.replace(hour=23, minute=59, second=59, microsecond=999_999)
    assert end_of(TimeUnit.day, T) == end_of_day
    assert end_of(TimeUnit.week, T) == end_of_day + dt.timedelta(days=4)  # Sunday
    sunday = end_of_day + dt.timedelta(days=4)
    assert end_of(TimeUnit.week, sunday) == sunday


def test_bucket_width() -> None:
    assert bucket_width(TimeUnit.week, 1) == dt.timedelta(weeks=1)
    assert bucket_width(TimeUnit.hour, 0.5) == dt.timedelta(minutes=30)
    assert bucket_width(TimeUnit.second, 0.01) == dt.timedelta(milliseconds=10)


def test_buckets_are_counted_from_the_pivot() -> None:
    width = dt.timedelta(hours=5)
    since, until = T, T + dt.timedelta(hours=12)
    spans = list(bucket_spans(since, until, TimeUnit.hour, width, now=until))
    assert spans[0].index == (T - PIVOT) // width
    assert spans[0].start <= since < spans[0].start + width
    assert (spans[0].start - PIVOT) % width == dt.timedelta(0)
    assert spans[-1].start <= until <= spans[-1].end
    assert all(b.start - a.start == width for a, b in itertools.pairwise(spans))
    assert all(s.end == s.start + width - dt.timedelta(microseconds=1) for s in spans)


def test_a_future_until_ends_with_the_current_unit() -> None:
    now = T
    spans = list(
        bucket_spans(
            T - dt.timedelta(days=2),
            T + dt.timedelta(days=9),
            TimeUnit.day,
            dt.timedelta(days=1),
            now,
        )
    )
    assert len(spans) == 3
    assert spans[-1].end == end_of(TimeUnit.day, now)


def test_too_many_buckets() -> None:
    width = dt.timedelta(hours=1)
    check_buckets(T, T + 1000 * width, width)
    with pytest.raises(InvalidRequestError, match="1001 buckets"):
        check_buckets(T, T + 1000 * width + dt.timedelta(microseconds=1), width)
