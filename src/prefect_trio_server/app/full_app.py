"""The whole server: the API under its base path, the UI at its base, CORS around both.

Requests for the API skip the root app's own layers. The root ``FastAPI`` app would run each
of them through its middleware (error handling, CORS, exception handling, an exit stack) and
its router before the API app, which has all of these itself except CORS: about 0.1 ms of a
request. ``RootApp`` sends a request the API mount matches straight to the API app behind
the same CORS middleware, with the scope the mount would give it; everything else (the UI,
the lifespan, paths no mount matches) takes the root app's full stack. Should anyone add
middleware or routes to the root app, all requests take the full stack again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .._version import PREFECT_VERSION
from ..settings import Settings

API_MOUNT = "api"


class RootApp(FastAPI):
    """The root app: API requests go straight to the mounted API app (see the module doc)."""

    def build_middleware_stack(self) -> ASGIApp:
        full_stack = super().build_middleware_stack()
        mount = self.router.routes[0] if self.router.routes else None
        if (
            not isinstance(mount, Mount)
            or mount.name != API_MOUNT
            or len(self.user_middleware) != 1
        ):
            return full_stack
        middleware: object
        middleware, args, options = self.user_middleware[0]
        if middleware is not CORSMiddleware:
            return full_stack
        return _ApiFirst(mount, CORSMiddleware(mount.app, *args, **options), full_stack, self)


class _ApiFirst:
    """ASGI: what ``mount`` matches goes to ``api`` with the mount's scope, the rest to ``rest``."""

    def __init__(self, mount: Mount, api: ASGIApp, rest: ASGIApp, root: FastAPI) -> None:
        self._mount = mount
        self._api = api
        self._rest = rest
        self._router = root.router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            match, child_scope = self._mount.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", self._router)
                scope.update(child_scope)
                await self._api(scope, receive, send)
                return
        await self._rest(scope, receive, send)


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

    app = RootApp(
        title="prefect-trio-server",
        version=PREFECT_VERSION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.api_app = api_app
    app.mount(settings.api_base_path, api_app, name=API_MOUNT)  # first: see RootApp
    if ui_app is not None:
        app.mount("/", ui_app, name="ui")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_methods=settings.cors_allowed_methods,
        allow_headers=settings.cors_allowed_headers,
    )
    return app
