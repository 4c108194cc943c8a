"""CSRF tokens, one per client."""

from __future__ import annotations

from sqlalchemy import Column, String, Table, Uuid

from ..types import Timestamp
from .common import metadata

csrf_token = Table(
    "csrf_token",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("created", Timestamp, nullable=False),
    Column("updated", Timestamp, nullable=False),
    Column("token", String, nullable=False),
    Column("client", String, nullable=False, unique=True),
    Column("expiration", Timestamp, nullable=False),
)
