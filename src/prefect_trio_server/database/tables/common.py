"""What every table shares: the metadata with its naming convention, and column helpers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Column, Index, MetaData, Uuid, func

from ..dialects import JSONBType
from ..types import Timestamp

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s__%(column_0_N_name)s",
        "uq": "uq_%(table_name)s__%(column_0_N_name)s",
        "fk": "fk_%(table_name)s__%(column_0_name)s__%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSON on SQLite, JSONB on PostgreSQL (whose dialect is imported only if it is used).
Json = JSON().with_variant(JSONBType(), "postgresql")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def object_columns(*, index_updated: bool = True) -> list[Column[Any]]:
    """``id``, ``created`` and ``updated``: every object table starts with these.

    Tables written on every state change (states, events, logs) leave ``updated`` without
    an index: no query sorts or filters them by it, and each index costs every insert a
    page write.
    """
    return [
        Column("id", Uuid, primary_key=True, default=uuid.uuid4),
        Column("created", Timestamp, nullable=False, default=_now, server_default=func.now()),
        Column(
            "updated",
            Timestamp,
            nullable=False,
            default=_now,
            onupdate=_now,
            server_default=func.now(),
            index=index_updated,
        ),
    ]


__all__ = ["Index", "Json", "metadata", "object_columns"]
