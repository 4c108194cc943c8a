"""Shared bases and field types for the wire-format models.

Conventions (see the client protocol notes, section 1.6):

* Request bodies (:class:`ActionModel`) are *lenient*: unknown fields sent by newer clients are
  ignored instead of rejected.
* Response bodies (:class:`ObjectModel`) always carry ``id``, ``created`` and ``updated``.
* Datetimes are accepted as ISO-8601 with a ``T`` or a space separator (``str(datetime)`` as
  sent in ``scheduled_before``); naive values are taken to be UTC. Everything is normalised to UTC
  and emitted in JSON as ISO-8601 ending in ``Z``.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
import uuid
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
)

__all__ = [
    "ActionModel",
    "DateTime",
    "FilterModel",
    "IDModel",
    "KeyValueLabels",
    "ObjectModel",
    "Operator",
    "OperatorFilter",
    "PrefectBaseModel",
    "format_datetime",
    "generate_slug",
    "to_utc",
]


def to_utc(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as an aware UTC datetime; naive values are assumed to already be UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def format_datetime(value: dt.datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix, e.g. ``2026-11-24T22:37:32.333119Z``."""
    return to_utc(value).isoformat().replace("+00:00", "Z")


DateTime = Annotated[
    dt.datetime,
    AfterValidator(to_utc),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An aware UTC datetime: lenient on input (``T`` or space, naive = UTC), ``Z`` on output.

pydantic-core writes an aware UTC datetime as ``format_datetime`` does (``...Z``, microseconds
when there are any), without a Python call per value.
"""

LabelValue = bool | int | float | str
KeyValueLabels = dict[str, LabelValue]
"""Labels: a flat mapping of string keys to strings, numbers or booleans."""


class PrefectBaseModel(BaseModel):
    """Base of every wire model."""

    model_config = ConfigDict(extra="ignore")


class ActionModel(PrefectBaseModel):
    """Base of request bodies (create/update actions): unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    def changes(self) -> dict[str, Any]:
        """The fields the client actually sent (``exclude_unset``), for applying updates."""
        return self.model_dump(exclude_unset=True)


class IDModel(PrefectBaseModel):
    """A response object identified by ``id`` (always present on the wire)."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID


class ObjectModel(IDModel):
    """A persisted response object: ``id``, ``created`` and ``updated`` are always emitted.

    ``created``/``updated`` have no default so that the server cannot forget them; they may be
    ``None`` (the reference schema allows null).
    """

    created: DateTime | None
    updated: DateTime | None


class Operator(enum.StrEnum):
    """Operators for combining filter criteria."""

    and_ = "and_"
    or_ = "or_"


class FilterModel(PrefectBaseModel):
    """Base of all filter objects: unknown criteria are rejected (422)."""

    model_config = ConfigDict(extra="forbid")


class OperatorFilter(FilterModel):
    """A filter object whose criteria are combined with ``operator``."""

    operator: Operator = Field(
        default=Operator.and_,
        description="Operator for combining filter criteria. Defaults to 'and_'.",
    )


_ADJECTIVES = (
    "amber", "bold", "brave", "calm", "clever", "crimson", "daring", "eager", "fancy", "gentle",
    "golden", "happy", "jolly", "keen", "lively", "lucky", "mellow", "nimble", "proud", "quick",
    "quiet", "rapid", "shiny", "silver", "swift", "tidy", "vivid", "witty", "zealous", "zippy",
)  # fmt: skip
_ANIMALS = (
    "badger", "beaver", "bison", "condor", "coyote", "crane", "dingo", "eagle", "falcon", "ferret",
    "gecko", "heron", "ibis", "jackal", "koala", "lemur", "lynx", "marmot", "newt", "ocelot",
    "otter", "panda", "quail", "raven", "salmon", "tapir", "toucan", "walrus", "yak", "zebra",
)  # fmt: skip


def generate_slug() -> str:
    """A random human-friendly name such as ``swift-otter`` (default run names)."""
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_ANIMALS)}"
