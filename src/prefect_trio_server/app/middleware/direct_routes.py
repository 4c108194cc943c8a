"""Answer the plain requests of simple routes without FastAPI's per-request machinery.

For every request FastAPI scans its routes in order (a regular expression each), then
solves the route's dependencies: it walks the dependency tree, inspects each parameter,
builds a ``Request``, and passes through four more ASGI layers (exception handlers, exit
stack, body limit, telemetry). On a server whose requests each cost a few hundred
microseconds of real work, that machinery is a large share of the time.

A route is *direct* when everything it takes is simple: path parameters, a JSON body
(one model, or several embedded fields), and dependencies this module knows how to
compute (the database, the settings, the client's API version), and when its endpoint
is a coroutine annotated to return a ``Response``. For such a route, this middleware
finds it through an index of the routes by the first segment of their path (keeping
FastAPI's order, so the same route wins), validates the parameters with the very
validators FastAPI built for them, calls the endpoint and sends its response.

Anything else goes to FastAPI, unchanged: any request while the app has dependency
overrides (tests set them), a route that is not direct, a path that is
not matched (404, 405 and trailing-slash redirects are FastAPI's), and any request FastAPI
would answer with an error, such as a body that is not JSON, a parameter that does not
validate, or a malformed ``X-Prefect-API-Version`` (the body already read is replayed).
So the direct path only ever answers requests that FastAPI would pass to the endpoint
with the same arguments, and every error response is FastAPI's own.

Exceptions from the endpoint travel up to the error boundary, as they do from FastAPI's
routes; ``HTTPException`` and its kin go to the app's exception handlers first, as
FastAPI's exception middleware would send them.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
import re
import typing
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, params
from fastapi.routing import APIRoute
from starlette.convertors import StringConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...api.dependencies import check_api_version, get_database, get_database_of, get_settings
from ._paths import route_path

logger = logging.getLogger("prefect_trio_server.direct_routes")

_API_VERSION_HEADER = b"x-prefect-api-version"


class _Fallback(Exception):
    """This request is FastAPI's to answer."""


@dataclass(frozen=True)
class _Param:
    """An endpoint argument taken from the path or the body, with FastAPI's validator."""

    name: str
    alias: str
    field: Any  # FastAPI's ModelField for the parameter
    required: bool
    validate_default: bool

    def validated(self, value: Any, location: str) -> Any:
        result, errors = self.field.validate(value, {}, loc=(location, self.alias))
        if errors:
            raise _Fallback
        return result

    def default(self) -> Any:
        if self.required:
            raise _Fallback
        value = copy.deepcopy(self.field.default)
        return self.validated(value, "body") if self.validate_default else value


_UNSET: Any = object()


class _Request:
    """What the dependencies of one request see (computed once each, as FastAPI caches)."""

    __slots__ = ("_version", "app", "scope")

    def __init__(self, app: FastAPI, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self._version: Any = _UNSET

    async def api_version(self) -> tuple[int, int, int] | None:
        if self._version is _UNSET:
            header: str | None = None
            for name, value in self.scope["headers"]:
                if name == _API_VERSION_HEADER:
                    header = value.decode("latin-1")
                    break
            try:
                self._version = await check_api_version(header)
            except Exception as exc:  # FastAPI answers (400)
                raise _Fallback from exc
        version: tuple[int, int, int] | None = self._version
        return version

    async def database(self) -> Any:
        try:
            return get_database_of(self.app)
        except Exception as exc:  # FastAPI raises it the same way
            raise _Fallback from exc

    async def settings(self) -> Any:
        return self.app.state.settings


_DEPENDENCIES: dict[Callable[..., Any], Callable[[_Request], Awaitable[Any]]] = {
    check_api_version: _Request.api_version,
    get_database: _Request.database,
    get_settings: _Request.settings,
}


@dataclass(frozen=True)
class _DirectRoute:
    """A route this middleware answers, and how to build its endpoint's arguments."""

    path_params: tuple[_Param, ...]
    body_params: tuple[_Param, ...]
    embedded_body: bool
    dependencies: tuple[tuple[str | None, Callable[[_Request], Awaitable[Any]]], ...]
    endpoint: Callable[..., Awaitable[Any]]

    async def arguments(self, request: _Request, path: dict[str, str], body: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for param in self.path_params:
            values[param.name] = param.validated(path[param.alias], "path")
        if self.body_params:
            if not self.embedded_body:
                (param,) = self.body_params
                values[param.name] = param.validated(body, "body")
            elif not isinstance(body, dict):
                raise _Fallback
            else:
                for param in self.body_params:
                    if param.alias in body:
                        values[param.name] = param.validated(body[param.alias], "body")
                    else:
                        values[param.name] = param.default()
        for name, dependency in self.dependencies:
            value = await dependency(request)
            if name is not None:
                values[name] = value
        return values


def direct_route(route: APIRoute) -> _DirectRoute | None:
    """How to answer ``route`` directly, or None when it takes anything unusual."""
    try:
        return _direct_route(route)
    except Exception:  # a FastAPI whose internals differ: that route stays FastAPI's
        logger.debug("route %s %s stays with FastAPI", route.methods, route.path, exc_info=True)
        return None


def _direct_route(route: APIRoute) -> _DirectRoute | None:
    dependant = route.dependant
    endpoint = dependant.call
    if endpoint is None or not inspect.iscoroutinefunction(endpoint):
        return None
    if not all(isinstance(c, StringConvertor) for c in route.param_convertors.values()):
        return None
    if (
        dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.request_param_name
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    ):
        return None
    dependencies: list[tuple[str | None, Callable[[_Request], Awaitable[Any]]]] = []
    for sub in dependant.dependencies:
        known = _DEPENDENCIES.get(sub.call) if sub.call is not None else None
        if known is None:
            return None
        dependencies.append((sub.name, known))
    path_params = tuple(_param(field) for field in dependant.path_params)
    body_params = tuple(_param(field) for field in dependant.body_params)
    if any(param is None for param in (*path_params, *body_params)):
        return None
    names = {param.name for param in body_params if param is not None}
    embedded = len(names) > 1 or any(
        getattr(field.field_info, "embed", False) for field in dependant.body_params
    )
    if len(body_params) > len(names) or not _returns_a_response(endpoint):
        return None
    return _DirectRoute(
        path_params=typing.cast(tuple[_Param, ...], path_params),
        body_params=typing.cast(tuple[_Param, ...], body_params),
        embedded_body=embedded,
        dependencies=tuple(dependencies),
        endpoint=endpoint,
    )


def _returns_a_response(endpoint: Callable[..., Any]) -> bool:
    """Whether ``endpoint`` is annotated to return a ``Response`` (FastAPI sends it as is).

    Only the return annotation is evaluated: all of them would cost start-up 12 ms."""
    annotation = getattr(endpoint, "__annotations__", {}).get("return")
    if isinstance(annotation, str):
        try:
            annotation = eval(annotation, getattr(endpoint, "__globals__", {}))
        except Exception:
            return False
    return isinstance(annotation, type) and issubclass(annotation, Response)


def _param(field: Any) -> _Param | None:
    """A path or JSON body parameter with a single name, or None."""
    info = field.field_info
    if type(info) not in (params.Path, params.Body):  # not Form, File, Query...
        return None
    if not callable(getattr(field, "validate", None)):
        return None
    if info.validation_alias not in (None, field.alias):
        return None
    return _Param(
        name=field.name,
        alias=field.alias,
        field=field,
        required=bool(info.is_required()),
        validate_default=bool(info.validate_default),
    )


@dataclass(frozen=True, eq=False)
class _Candidate:
    route: BaseRoute
    regex: re.Pattern[str] | None  # None: not a plain route, ask it whether it matches
    methods: frozenset[str]
    direct: _DirectRoute | None


class RouteIndex:
    """The app's routes by the first segment of their path, in the app's order."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._candidates = [_candidate(route) for route in routes]
        segments = [_first_literal_segment(route) for route in routes]
        placed = list(zip(self._candidates, segments, strict=True))
        self._anywhere = tuple(candidate for candidate, segment in placed if segment is None)
        self._by_segment = {
            literal: tuple(c for c, segment in placed if segment in (None, literal))
            for literal in {segment for segment in segments if segment is not None}
        }

    @property
    def direct_routes(self) -> list[BaseRoute]:
        """The routes answered directly (for tests and logs)."""
        return [candidate.route for candidate in self._candidates if candidate.direct is not None]

    def find(self, path: str, method: str, scope: Scope) -> tuple[_DirectRoute, dict[str, str]]:
        """The direct route FastAPI would pick for this request, or ``_Fallback``."""
        for candidate in self._by_segment.get(_first_segment(path), self._anywhere):
            if candidate.regex is None:
                if candidate.route.matches(scope)[0] != Match.NONE:
                    raise _Fallback
                continue
            found = candidate.regex.match(path)
            if found is None or method not in candidate.methods:
                continue
            if candidate.direct is None:
                raise _Fallback
            return candidate.direct, found.groupdict()
        raise _Fallback


def _candidate(route: BaseRoute) -> _Candidate:
    if isinstance(route, Route) and type(route).matches in (Route.matches, APIRoute.matches):
        direct = direct_route(route) if isinstance(route, APIRoute) else None
        return _Candidate(route, route.path_regex, frozenset(route.methods or ()), direct)
    return _Candidate(route, None, frozenset(), None)


def _first_literal_segment(route: BaseRoute) -> str | None:
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/") or not isinstance(route, Route):
        return None
    segment = _first_segment(path)
    return None if "{" in segment else segment


def _first_segment(path: str) -> str:
    return path[1:].split("/", 1)[0]


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


class DirectRoutesMiddleware:
    """Innermost middleware of the API app: direct routes here, the rest to FastAPI."""

    def __init__(self, app: ASGIApp, *, api_app: FastAPI) -> None:
        self.app = app
        self.api_app = api_app
        self._index: RouteIndex | None = None

    @property
    def index(self) -> RouteIndex:
        """Built on first use, when every route is in place."""
        if self._index is None:
            self._index = RouteIndex(self.api_app.router.routes)
        return self._index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope.get("method", "")
        if (
            scope["type"] != "http"
            or method == "HEAD"
            or method == "OPTIONS"
            or self.api_app.dependency_overrides  # FastAPI's to apply
        ):
            await self.app(scope, receive, send)
            return
        try:
            route, path = self.index.find(route_path(scope), method, scope)
        except _Fallback:
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        try:
            body = await _json_body(route, scope, receive, received) if route.body_params else None
            arguments = await route.arguments(_Request(self.api_app, scope), path, body)
        except _Fallback:
            await self.app(scope, _replaying(received, receive), send)
            return
        try:
            response = await route.endpoint(**arguments)
        except Exception as exc:
            handler = _exception_handler(self.api_app, exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
        if not isinstance(response, Response):
            raise TypeError(f"{route.endpoint.__qualname__} returned {type(response).__name__}")
        await response(scope, receive, send)


async def _json_body(
    route: _DirectRoute, scope: Scope, receive: Receive, received: list[Message]
) -> Any:
    if not _is_json(scope):
        raise _Fallback
    chunks: list[bytes] = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            raise _Fallback
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if not body:
        raise _Fallback
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _Fallback from exc


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """``receive`` that first gives back the messages already taken from the client."""
    pending = list(received)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _exception_handler(
    app: FastAPI, exc: Exception
) -> Callable[[Request, Exception], Awaitable[Response]] | None:
    """The app's handler for ``exc`` (by class, nearest first), as FastAPI's exception
    middleware looks it up; handlers for ``Exception`` itself belong to the outermost
    layer, past the error boundary, so they are not looked at here."""
    handlers: dict[Any, Any] = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            handler = handlers[cls]
            if inspect.iscoroutinefunction(handler):
                return typing.cast(Callable[[Request, Exception], Awaitable[Response]], handler)
            return functools.partial(anyio.to_thread.run_sync, handler)
    return None


def direct_routes_of(routes: Iterable[BaseRoute]) -> list[BaseRoute]:
    """The routes among ``routes`` that would be answered directly."""
    return RouteIndex(list(routes)).direct_routes
