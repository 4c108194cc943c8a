"""Server configuration: one JSON value per key."""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from .common import Json, metadata, object_columns

configuration = Table(
    "configuration",
    metadata,
    *object_columns(),
    Column("key", String, nullable=False, unique=True),
    Column("value", Json, nullable=False),
)
