"""A migrated database on each backend in turn."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from prefect_trio_server.database import Database
from prefect_trio_server.database.migrate import migrate
from prefect_trio_server.settings import Settings


@pytest.fixture
async def database(prefect_trio_settings: Settings) -> AsyncIterator[Database]:
    db = Database(prefect_trio_settings)
    await trio.to_thread.run_sync(migrate, db)
    try:
        yield db
    finally:
        db.dispose()
