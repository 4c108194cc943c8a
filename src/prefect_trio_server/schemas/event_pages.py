"""What the event read endpoints answer: pages of events and counts of them (models only)."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field, WithJsonSchema

from .base import DateTime, PrefectBaseModel
from .events import ReceivedEvent

__all__ = ["Countable", "EventCount", "EventPage", "TimeUnit"]

Url = Annotated[str, WithJsonSchema({"type": "string", "format": "uri", "minLength": 1})]


class EventPage(PrefectBaseModel):
    """A single page of events returned from the API, with an optional link to the
    next page of results"""

    events: list[ReceivedEvent] = Field(description="The Events matching the query")
    total: int = Field(description="The total number of matching Events")
    next_page: Url | None = Field(
        description="The URL for the next page of results, if there are more"
    )


class EventCount(PrefectBaseModel):
    """The count of events with the given filter value"""

    value: str = Field(description="The value to use for filtering")
    label: str = Field(description="The value to display for this count")
    count: int = Field(description="The count of matching events")
    start_time: DateTime = Field(description="The start time of this group of events")
    end_time: DateTime = Field(description="The end time of this group of events")


class Countable(enum.StrEnum):
    """What ``/events/count-by/{countable}`` groups events by."""

    day = "day"
    time = "time"
    event = "event"
    resource = "resource"


class TimeUnit(enum.StrEnum):
    """The unit of the time buckets of ``count-by/time``."""

    week = "week"
    day = "day"
    hour = "hour"
    minute = "minute"
    second = "second"
