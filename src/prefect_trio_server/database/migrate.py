"""Bring the schema to the newest revision, cheaply when it already is.

Alembic takes a noticeable part of a cold start to import and to read its script folder, so
the revision stored in the database is first compared with ``HEAD_REVISION`` by one query;
Alembic is loaded only when there is work to do. A test keeps ``HEAD_REVISION`` equal to the
script folder's head.

Several workers or replicas may start at once: on SQLite the migration runs inside one
``BEGIN IMMEDIATE`` transaction, on PostgreSQL under a transaction-level advisory lock, so
one migrates and the others find the work done.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from .engine import Database

HEAD_REVISION = "0007"
MIGRATIONS_DIRECTORY = Path(__file__).parent / "migrations"
_ADVISORY_LOCK_KEY = 0x7072_6566_6563_74  # "prefect", fits a signed bigint

logger = logging.getLogger("prefect_trio_server.database")


def stored_revision(connection: Connection) -> str | None:
    """The revision recorded in the database, or None for a fresh one."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if revision is None else str(revision)


def alembic_config(connection: Connection | None = None) -> object:
    """An Alembic ``Config`` for our script folder (imports Alembic)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    current = stored_revision(connection)
    if current == HEAD_REVISION:
        return  # another process migrated while this one waited for the lock
    logger.info("migrating the database from %s to %s", current or "empty", HEAD_REVISION)
    config = alembic_config(connection)
    assert isinstance(config, Config)
    command.upgrade(config, "head")


def is_current(database: Database) -> bool:
    """Whether the schema is at ``HEAD_REVISION`` (one query; Alembic stays unloaded)."""
    with database.read_engine.connect() as connection:
        return stored_revision(connection) == HEAD_REVISION


def migrate(database: Database) -> None:
    """Apply every pending migration (blocking: run it in a thread)."""
    if is_current(database):
        return
    with database.write_engine.begin() as connection:
        _upgrade(connection)
