"""Alembic environment: always run on a connection handed over by ``database.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from prefect_trio_server.database.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "migrations run through prefect_trio_server.database.migrate, on an open connection"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
context.run_migrations()
