"""The server module: the public names of Prefect's ``prefect.server.api.server``.

Same names, parameters and defaults, so code written against Prefect's module can import
them from here. ``create_app(settings)`` takes our ``Settings``; with none, settings are read
from the environment.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

from .app import cache
from .app.api_app import build_api_app
from .app.full_app import build_app
from .app.middleware.request_limit import RequestLimitMiddleware
from .app.ui import (
    SPAStaticFiles,
    build_ui_app,
    copy_directory,
    replace_placeholder_string_in_files,
)
from .retryable import is_client_retryable_exception
from .settings import Settings, get_settings
from .subprocess_server import SubprocessASGIServer

__all__ = [
    "RequestLimitMiddleware",
    "SPAStaticFiles",
    "SubprocessASGIServer",
    "copy_directory",
    "create_api_app",
    "create_app",
    "create_ui_app",
    "is_client_retryable_exception",
    "replace_placeholder_string_in_files",
]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def create_api_app(
    dependencies: list[Any] | None = None,
    health_check_path: str = "/health",
    version_check_path: str = "/version",
    fast_api_app_kwargs: dict[str, Any] | None = None,
    final: bool = False,
    ignore_cache: bool = False,
) -> FastAPI:
    """Create a FastAPI app that serves the Prefect REST API.

    Args:
        dependencies: extra dependencies added to every API router
        health_check_path: path of the health check route
        version_check_path: path of the API version route
        fast_api_app_kwargs: keyword arguments for the FastAPI constructor
        final: no other app will be built in this process: skip the cache
        ignore_cache: build a new app even if an equal one is cached
    """
    return _api_app(
        get_settings(),
        dependencies=dependencies,
        health_check_path=health_check_path,
        version_check_path=version_check_path,
        fast_api_app_kwargs=fast_api_app_kwargs,
        final=final,
        ignore_cache=ignore_cache,
    )


def _api_app(
    settings: Settings,
    *,
    dependencies: list[Any] | None = None,
    health_check_path: str = "/health",
    version_check_path: str = "/version",
    fast_api_app_kwargs: dict[str, Any] | None = None,
    ephemeral: bool = False,
    webserver_only: bool = False,
    final: bool = False,
    ignore_cache: bool = False,
) -> FastAPI:
    key = cache.key(
        "api",
        settings,
        dependencies,
        health_check_path,
        version_check_path,
        fast_api_app_kwargs,
        ephemeral,
        webserver_only,
    )
    return cache.get_or_build(
        key,
        lambda: build_api_app(
            settings,
            dependencies=dependencies,
            health_check_path=health_check_path,
            version_check_path=version_check_path,
            fast_api_app_kwargs=fast_api_app_kwargs,
            ephemeral=ephemeral,
            webserver_only=webserver_only,
        ),
        final=final,
        ignore_cache=ignore_cache,
    )


def create_ui_app(ephemeral: bool) -> FastAPI:
    """Create the app that serves the web UI (no static files when ephemeral or disabled)."""
    return build_ui_app(get_settings(), ephemeral)


def create_app(
    settings: Settings | None = None,
    ephemeral: bool = False,
    webserver_only: bool = False,
    final: bool = False,
    ignore_cache: bool = False,
) -> FastAPI:
    """Create the whole server: the REST API and the UI.

    Args:
        settings: the settings to use; read from the environment when None
        ephemeral: an ephemeral server: no UI, only the services such a server needs
        webserver_only: the API and UI without any background service
        final: no other app will be built in this process: skip the cache
        ignore_cache: build a new app even if one with equal settings is cached
    """
    settings = settings or get_settings()
    ephemeral = ephemeral or _env_flag("PREFECT__SERVER_EPHEMERAL")
    webserver_only = webserver_only or _env_flag("PREFECT__SERVER_WEBSERVER_ONLY")
    final = final or _env_flag("PREFECT__SERVER_FINAL")

    def build() -> FastAPI:
        api_app = _api_app(
            settings,
            ephemeral=ephemeral,
            webserver_only=webserver_only,
            final=final,
            ignore_cache=ignore_cache,
        )
        ui_app = None if ephemeral else build_ui_app(settings, ephemeral)
        return build_app(settings, api_app, ui_app)

    key = cache.key("app", settings, ephemeral, webserver_only)
    return cache.get_or_build(key, build, final=final, ignore_cache=ignore_cache)
