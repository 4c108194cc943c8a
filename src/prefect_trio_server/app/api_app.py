"""The REST API app: routers, middleware, error boundary, lifespan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.middleware.gzip import GZipMiddleware

from .._version import PREFECT_VERSION, SERVER_API_VERSION
from ..api import api_routers
from ..api.dependencies import check_api_version, get_database_of
from ..api.routing import include
from ..database import Database
from ..settings import Settings
from .errors import ErrorBoundaryMiddleware, validation_exception_handler
from .lifespan import api_lifespan
from .middleware.auth import BasicAuthMiddleware
from .middleware.csrf import CsrfMiddleware
from .middleware.direct_routes import DirectRoutesMiddleware
from .middleware.json_body import BodySizeLimitMiddleware, DefaultJSONContentTypeMiddleware
from .middleware.request_limit import RequestLimitMiddleware

API_TITLE = "Prefect REST API"

GZIP_LEVEL = 3
"""Bodies of 1000 bytes and more are gzipped for clients that accept it. Level 3, not
Starlette's 9: a page of 50 logs (18 KB) compresses in 135 us instead of 330, to 9% more
bytes."""


def build_api_app(
    settings: Settings,
    *,
    dependencies: Sequence[Any] | None = None,
    health_check_path: str = "/health",
    version_check_path: str = "/version",
    fast_api_app_kwargs: dict[str, Any] | None = None,
    ephemeral: bool = False,
    webserver_only: bool = False,
) -> FastAPI:
    """Build the API app for ``settings`` (uncached; ``server.create_api_app`` caches)."""
    kwargs: dict[str, Any] = {
        "title": API_TITLE,
        "version": PREFECT_VERSION,
        "lifespan": api_lifespan(ephemeral=ephemeral, webserver_only=webserver_only),
        **(fast_api_app_kwargs or {}),
    }
    app = FastAPI(**kwargs)
    app.state.settings = settings
    app.state.database = None

    router_dependencies = [*(dependencies or []), Depends(check_api_version)]
    for router in api_routers():
        include(app, router, router_dependencies)

    @app.get(health_check_path, tags=["Root"])
    async def health_check() -> bool:
        return True

    @app.get(version_check_path, tags=["Root"])
    async def server_version() -> str:
        return SERVER_API_VERSION

    if settings.enable_metrics:
        from prometheus_client import make_asgi_app

        app.mount("/metrics", make_asgi_app())

    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    _add_middleware(app, settings, health_check_path)
    return app


def _add_middleware(app: FastAPI, settings: Settings, health_check_path: str) -> None:
    """Install the middleware; the last added runs first on the way in."""

    def database() -> Database:
        return get_database_of(app)

    if settings.direct_routes:
        app.add_middleware(DirectRoutesMiddleware, api_app=app)
    if settings.csrf_protection_enabled:
        app.add_middleware(CsrfMiddleware, database=database)
    app.add_middleware(DefaultJSONContentTypeMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    if settings.is_sqlite:
        app.add_middleware(
            RequestLimitMiddleware,
            limit=settings.request_limit,
            timeout=settings.request_limit_timeout,
            exempt_paths=(health_check_path,),
        )
    if settings.api_auth_string is not None:
        app.add_middleware(
            BasicAuthMiddleware,
            auth_string=settings.api_auth_string.get_secret_value(),
            public_get_paths=(health_check_path, "/ready"),
        )
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=GZIP_LEVEL)
    app.add_middleware(ErrorBoundaryMiddleware)
