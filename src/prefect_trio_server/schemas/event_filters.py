"""``EventFilter``: the criteria of ``POST /events/filter`` and ``/events/count-by`` (models only).

Semantics are Prefect 3.9's (``prefect.server.events.filters``); translating them to SQL is the
job of :mod:`prefect_trio_server.database.filters.events`.

* Every criterion of every sub-filter must hold (there is no ``operator``); a list of
  ``related`` or ``any_resource`` filters means each of them must match (some resource each).
* An empty list (``"name": []``) is no criterion at all, as in Prefect; an empty list of label
  values in a :class:`ResourceSpecification` matches nothing.
* ``occurred`` is always bounded: absent, it is from the start of the day 180 days ago up to
  now (Prefect's defaults), both ends inclusive. ``occurred: null`` and ``id: null`` are taken
  as absent (Prefect refuses them; accepting costs nothing).
* Unknown criteria are rejected (422), as by every filter of ours.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import Field, RootModel, model_validator

from .base import DateTime, FilterModel

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "EventAnyResourceFilter",
    "EventFilter",
    "EventIDFilter",
    "EventNameFilter",
    "EventOccurredFilter",
    "EventOrder",
    "EventRelatedFilter",
    "EventResourceFilter",
    "EventTextFilter",
    "ResourceSpecification",
]

DEFAULT_LOOKBACK_DAYS = 180
"""Without ``occurred.since``, events from the start of the day this many days ago (Prefect)."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _default_since() -> dt.datetime:
    today = _utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=DEFAULT_LOOKBACK_DAYS)


class ResourceSpecification(RootModel[dict[str, str | list[str]]]):
    """Labels a resource must have: a value, or a list of values any of which matches.

    A value ``"abc*"`` matches by prefix, ``"!abc"`` (or ``"!abc*"``) excludes, and a
    resource without the label never matches (not even an exclusion).
    """

    def __len__(self) -> int:
        return len(self.root)  # an empty specification is no criterion

    def items(self) -> Iterator[tuple[str, list[str]]]:
        """Each label with its values as a list (a single value becomes a one-item list)."""
        for label, value in self.root.items():
            yield label, [value] if isinstance(value, str) else list(value)


class EventOccurredFilter(FilterModel):
    since: DateTime = Field(
        default_factory=_default_since,
        description="Only include events after this time (inclusive)",
    )
    until: DateTime = Field(
        default_factory=_utcnow,
        description="Only include events prior to this time (inclusive)",
    )


class EventNameFilter(FilterModel):
    prefix: list[str] | None = Field(
        default=None, description="Only include events matching one of these prefixes"
    )
    exclude_prefix: list[str] | None = Field(
        default=None, description="Exclude events matching one of these prefixes"
    )
    name: list[str] | None = Field(
        default=None, description="Only include events matching one of these names exactly"
    )
    exclude_name: list[str] | None = Field(
        default=None, description="Exclude events matching one of these names exactly"
    )


class EventResourceFilter(FilterModel):
    id: list[str] | None = Field(
        default=None, description="Only include events for resources with these IDs"
    )
    id_prefix: list[str] | None = Field(
        default=None,
        description="Only include events for resources with IDs starting with these prefixes.",
    )
    labels: ResourceSpecification | None = Field(
        default=None, description="Only include events for resources with these labels"
    )
    distinct: bool = Field(default=False, description="Only include events for distinct resources")


class EventRelatedFilter(FilterModel):
    id: list[str] | None = Field(
        default=None, description="Only include events for related resources with these IDs"
    )
    role: list[str] | None = Field(
        default=None, description="Only include events for related resources in these roles"
    )
    resources_in_roles: list[tuple[str, str]] | None = Field(
        default=None,
        description="Only include events with specific related resources in specific roles",
    )
    labels: ResourceSpecification | None = Field(
        default=None, description="Only include events for related resources with these labels"
    )


class EventAnyResourceFilter(FilterModel):
    id: list[str] | None = Field(
        default=None, description="Only include events for resources with these IDs"
    )
    id_prefix: list[str] | None = Field(
        default=None,
        description="Only include events for resources with IDs starting with these prefixes",
    )
    labels: ResourceSpecification | None = Field(
        default=None, description="Only include events for related resources with these labels"
    )


class EventIDFilter(FilterModel):
    id: list[uuid.UUID] | None = Field(
        default=None, description="Only include events with one of these IDs"
    )


class EventTextFilter(FilterModel):
    """Filter by text search across event content."""

    query: str = Field(
        description="Text search query string",
        examples=["error", "error -debug", '"connection timeout"', "+required -excluded"],
        max_length=200,
    )


class EventOrder(enum.StrEnum):
    ASC = "ASC"
    DESC = "DESC"


class EventFilter(FilterModel):
    occurred: EventOccurredFilter = Field(
        default_factory=EventOccurredFilter,
        description="Filter criteria for when the events occurred",
    )
    event: EventNameFilter | None = Field(
        default=None, description="Filter criteria for the event name"
    )
    resource: EventResourceFilter | None = Field(
        default=None, description="Filter criteria for the resource of the event"
    )
    related: EventRelatedFilter | list[EventRelatedFilter] | None = Field(
        default=None, description="Filter criteria for the related resources of the event"
    )
    any_resource: EventAnyResourceFilter | list[EventAnyResourceFilter] | None = Field(
        default=None, description="Filter criteria for any resource involved in the event"
    )
    id: EventIDFilter = Field(
        default_factory=EventIDFilter, description="Filter criteria for the events' ID"
    )
    text: EventTextFilter | None = Field(
        default=None, description="Filter criteria for text search across event content"
    )
    order: EventOrder = Field(
        default=EventOrder.DESC, description="The order to return filtered events"
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(data.get(key, 0) is None for key in ("occurred", "id")):
            return {
                key: value
                for key, value in data.items()
                if not (key in ("occurred", "id") and value is None)
            }
        return data

    def related_filters(self) -> list[EventRelatedFilter]:
        if self.related is None:
            return []
        return self.related if isinstance(self.related, list) else [self.related]

    def any_resource_filters(self) -> list[EventAnyResourceFilter]:
        if self.any_resource is None:
            return []
        return self.any_resource if isinstance(self.any_resource, list) else [self.any_resource]
