"""The schema, as SQLAlchemy Core tables (migrations in ``migrations/`` create them)."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Uuid

from .types import Timestamp

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s__%(column_0_N_name)s",
        "uq": "uq_%(table_name)s__%(column_0_N_name)s",
        "fk": "fk_%(table_name)s__%(column_0_name)s__%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

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
