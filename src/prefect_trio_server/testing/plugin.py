"""pytest plugin (pytest-trio): fixtures for testing against prefect-trio-server.

Registered through the ``pytest11`` entry point, so installing the package makes these
fixtures available; tests run under pytest-trio (``trio_mode = true``).

``prefect_trio_settings``
    ``Settings`` for a private server: PREFECT_HOME (and so the SQLite database) in the
    test's ``tmp_path``, UI off. Override it in your conftest to change settings.
``prefect_trio_app``
    The whole server as an ASGI app (``create_app``), its lifespan entered: the database
    is migrated and background services run for the duration of the test.
``prefect_trio_client``
    An ``httpx.AsyncClient`` bound in-process to ``prefect_trio_app``, with ``base_url``
    the API root (``http://prefect-trio-server/api``).
``prefect_trio_server_url``
    Session-scoped: the ``api_url`` of a real server in a child process
    (``SubprocessASGIServer``), for code that needs a socket (the Prefect client, say).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..settings import Settings


@pytest.fixture
def prefect_trio_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "prefect-home", ui_enabled=False)


@pytest.fixture
async def prefect_trio_app(prefect_trio_settings: Settings) -> AsyncIterator[Any]:
    from ..server import create_app

    app = create_app(prefect_trio_settings, ignore_cache=True)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def prefect_trio_client(
    prefect_trio_app: Any, prefect_trio_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=prefect_trio_app)
    base = prefect_trio_settings.api_base_path.rstrip("/")
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://prefect-trio-server{base}"
    ) as client:
        yield client


@pytest.fixture(scope="session")
def prefect_trio_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from ..subprocess_server import SubprocessASGIServer

    home = tmp_path_factory.mktemp("prefect-trio-server-home")
    server = SubprocessASGIServer(environment={"PREFECT_HOME": str(home)})
    server.start()
    try:
        yield server.api_url
    finally:
        server.stop()
