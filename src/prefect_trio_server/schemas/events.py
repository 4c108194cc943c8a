"""Events: the wire shapes of ``POST /events``, ``/events/in`` and stored events.

An event concerns one :class:`Resource` and any number of :class:`RelatedResource` s. Both are
flat label maps (string to string) that must carry a non-empty ``prefect.resource.id``; a
related resource also a non-empty ``prefect.resource.role``.

Requests are lenient, as Prefect's own server is: unknown event fields are ignored, and label
values that are numbers or booleans are taken as their string form. The limits are Prefect's
defaults (500 labels per resource, 100 related resources, names of at most 1024 characters).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import Field, RootModel, field_validator, model_validator

from .base import DateTime, PrefectBaseModel

__all__ = [
    "MAXIMUM_EVENT_NAME_LENGTH",
    "MAXIMUM_LABELS_PER_RESOURCE",
    "MAXIMUM_RELATED_RESOURCES",
    "Event",
    "ReceivedEvent",
    "RelatedResource",
    "Resource",
]

MAXIMUM_LABELS_PER_RESOURCE = 500
MAXIMUM_RELATED_RESOURCES = 100
MAXIMUM_EVENT_NAME_LENGTH = 1024


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _label_value(value: object) -> object:
    # JSON numbers and booleans become strings ("true", not "True"); anything else is left
    # for validation to reject.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class Resource(RootModel[dict[str, str]]):
    """An observable business object: a label map with a ``prefect.resource.id``."""

    @model_validator(mode="before")
    @classmethod
    def _stringify_labels(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: _label_value(item) for key, item in value.items()}
        return value

    @model_validator(mode="after")
    def _check_labels(self) -> Resource:
        if len(self.root) > MAXIMUM_LABELS_PER_RESOURCE:
            raise ValueError(
                f"The maximum number of labels per resource is {MAXIMUM_LABELS_PER_RESOURCE}"
            )
        if not self.root.get("prefect.resource.id"):
            raise ValueError("Resources must include a non-empty prefect.resource.id label")
        return self

    def __getitem__(self, key: str) -> str:
        return self.root[key]

    def __contains__(self, key: object) -> bool:
        return key in self.root

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self.root)

    def __len__(self) -> int:
        return len(self.root)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.root.get(key, default)

    def keys(self) -> Iterator[str]:
        return iter(self.root.keys())

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self.root.items())

    @property
    def id(self) -> str:
        return self.root["prefect.resource.id"]

    @property
    def name(self) -> str | None:
        return self.root.get("prefect.resource.name")

    def prefect_object_id(self, kind: str) -> uuid.UUID | None:
        """The UUID after ``<kind>.`` in the resource id, or None when it is not one."""
        prefix = kind if kind.endswith(".") else f"{kind}."
        if not self.id.startswith(prefix):
            return None
        try:
            return uuid.UUID(self.id[len(prefix) :])
        except ValueError:
            return None


class RelatedResource(Resource):
    """A resource with a ``prefect.resource.role`` in an event."""

    @model_validator(mode="after")
    def _check_role(self) -> RelatedResource:
        if not self.root.get("prefect.resource.role"):
            raise ValueError(
                "Related resources must include a non-empty prefect.resource.role label"
            )
        return self

    @property
    def role(self) -> str:
        return self.root["prefect.resource.role"]


class Event(PrefectBaseModel):
    """The client-side view of an event that has happened to a Resource."""

    occurred: DateTime = Field(description="When the event happened from the sender's perspective")
    event: str = Field(description="The name of the event that happened")
    resource: Resource = Field(description="The primary Resource this event concerns")
    related: list[RelatedResource] = Field(
        default_factory=list,
        description="A list of additional Resources involved in this event",
    )
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="An open-ended set of data describing what happened",
    )
    id: uuid.UUID = Field(description="The client-provided identifier of this event")
    follows: uuid.UUID | None = Field(
        default=None,
        description=(
            "The ID of an event that is known to have occurred prior to this one. If set, this "
            "may be used to establish a more precise ordering of causally-related events when "
            "they occur close enough together in time that the system may receive them "
            "out-of-order."
        ),
    )

    @field_validator("event")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if len(value) > MAXIMUM_EVENT_NAME_LENGTH:
            raise ValueError(f"Event name must be at most {MAXIMUM_EVENT_NAME_LENGTH} characters")
        return value

    @field_validator("related")
    @classmethod
    def _check_related(cls, value: list[RelatedResource]) -> list[RelatedResource]:
        if len(value) > MAXIMUM_RELATED_RESOURCES:
            raise ValueError(
                f"The maximum number of related resources is {MAXIMUM_RELATED_RESOURCES}"
            )
        return value

    def related_in_role(self, role: str) -> RelatedResource | None:
        """The first related resource with ``role``."""
        for related in self.related:
            if related.role == role:
                return related
        return None

    def receive(self, received: dt.datetime | None = None) -> ReceivedEvent:
        """This event as the server received it (``received`` defaults to now)."""
        return ReceivedEvent(
            **dict(self),
            received=received if received is not None else _utcnow(),
        )


class ReceivedEvent(Event):
    """The server-side view of an event: the event and when the server received it."""

    received: DateTime = Field(
        default_factory=_utcnow, description="When the event was received by Prefect Cloud"
    )
