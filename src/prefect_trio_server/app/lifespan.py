"""The API app's lifespan: database up, migrated, services running; and back down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI

from ..database import Database
from ..database.migrate import migrate
from ..events.persister import run_persister
from ..services import ServiceContext, selected_services, start_services
from ..settings import Settings

logger = logging.getLogger("prefect_trio_server.lifespan")


def _prepare_database(database: Database, settings: Settings) -> None:
    try:
        database.check_connection()
        if settings.database_migrate_on_start:
            migrate(database)
    except BaseException:
        database.dispose()
        raise


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def api_lifespan(*, ephemeral: bool, webserver_only: bool) -> Lifespan:
    """A lifespan for ``FastAPI(lifespan=...)`` with these service choices."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings: Settings = app.state.settings
        database = Database(settings)
        await anyio.to_thread.run_sync(_prepare_database, database, settings)
        app.state.database = database
        context = ServiceContext(settings=settings, database=database)
        try:
            async with anyio.create_task_group() as services:
                services.start_soon(database.run_checkpoints, name="database-checkpoints")
                # Every process moves the events it stages (not only the services' leader).
                services.start_soon(run_persister, database, name="event-persister")
                start_services(
                    services,
                    selected_services(ephemeral=ephemeral, webserver_only=webserver_only),
                    context,
                )
                yield
                services.cancel_scope.cancel()
        finally:
            app.state.database = None
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(database.dispose)

    return lifespan
