"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request

from .._version import MINIMUM_API_VERSION, SERVER_API_VERSION
from ..database import Database
from ..errors import ServiceUnavailableError
from ..settings import Settings


async def get_settings(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


async def get_database(request: Request) -> Database:
    return get_database_of(request.app)


def get_database_of(app: FastAPI) -> Database:
    """The database of a running API app (503 before its lifespan started)."""
    database = getattr(app.state, "database", None)
    if database is None:
        raise ServiceUnavailableError("the server is starting or stopping; retry shortly")
    assert isinstance(database, Database)
    return database


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


async def check_api_version(
    x_prefect_api_version: Annotated[str | None, Header()] = None,
) -> tuple[int, int, int] | None:
    """The client's API version (None: no header); clients older than the oldest API
    version we speak are refused. FastAPI runs it once a request, for the router and for
    the routes that ask for the version (``ApiVersionDep``)."""
    if x_prefect_api_version is None:
        return None
    parts = x_prefect_api_version.strip().split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise HTTPException(
            status_code=400,
            detail=(
                "Invalid X-PREFECT-API-VERSION header format. "
                f"Expected header in format 'x.y.z' but received {x_prefect_api_version!r}"
            ),
        )
    version = (int(parts[0]), int(parts[1]), int(parts[2]))
    if version < MINIMUM_API_VERSION:
        minimum = ".".join(map(str, MINIMUM_API_VERSION))
        raise HTTPException(
            status_code=400,
            detail=(
                f"The request specified API version {x_prefect_api_version} but this server "
                f"requires version {minimum} or higher ({SERVER_API_VERSION} is current). "
                "Upgrade your Prefect client."
            ),
        )
    return version


ApiVersionDep = Annotated[tuple[int, int, int] | None, Depends(check_api_version)]
