"""What differs between the two databases, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(connection: Connection) -> Any:
    """The dialect's ``insert`` (it has ``on_conflict_do_nothing`` / ``_do_update``)."""
    return insert_for_dialect(connection.dialect.name)


def insert_for_dialect(name: str) -> Any:
    """``insert_for`` by dialect name, for statements built once per dialect."""
    return postgresql.insert if name == "postgresql" else sqlite.insert
