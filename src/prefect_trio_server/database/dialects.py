"""What differs between the two databases, in one place.

SQLAlchemy's PostgreSQL dialect (with its drivers' modules: 2.5 MB, about 60 ms to import)
loads only when a PostgreSQL database uses it: the names here import it on first use.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Connection, Dialect, TypeDecorator
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeEngine


def insert_for(connection: Connection) -> Any:
    """The dialect's ``insert`` (it has ``on_conflict_do_nothing`` / ``_do_update``)."""
    return insert_for_dialect(connection.dialect.name)


def insert_for_dialect(name: str) -> Any:
    """``insert_for`` by dialect name, for statements built once per dialect."""
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert
    return sqlite.insert


def jsonb() -> TypeEngine[Any]:
    """PostgreSQL's ``JSONB``, for casts in PostgreSQL-only expressions."""
    from sqlalchemy.dialects.postgresql import JSONB

    return JSONB()


class JSONBType(TypeDecorator[Any]):
    """``JSONB``, built when a PostgreSQL dialect first compiles or binds it: the PostgreSQL
    variant of our JSON columns (``JSON().with_variant(JSONBType(), "postgresql")``)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(jsonb())
