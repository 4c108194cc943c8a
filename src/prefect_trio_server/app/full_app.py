"""The whole server: the API under its base path, the UI at its base, CORS around both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from .._version import PREFECT_VERSION
from ..settings import Settings


def build_app(
    settings: Settings,
    api_app: FastAPI,
    ui_app: FastAPI | None,
) -> FastAPI:
    """Mount ``api_app`` (and ``ui_app``) in a root app whose lifespan runs the API's."""

    @asynccontextmanager
    async def lifespan(_root: FastAPI) -> AsyncIterator[None]:
        async with api_app.router.lifespan_context(api_app):
            yield

    app = FastAPI(
        title="prefect-trio-server",
        version=PREFECT_VERSION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.api_app = api_app
    app.mount(settings.api_base_path, api_app, name="api")
    if ui_app is not None:
        app.mount("/", ui_app, name="ui")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_methods=settings.cors_allowed_methods,
        allow_headers=settings.cors_allowed_headers,
    )
    return app
