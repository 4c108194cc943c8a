"""Routers whose path operations are built once, in the app that serves them.

FastAPI builds a route when it is declared (the endpoint's signature, a pydantic validator
for every parameter, the body model, the response field) and builds it again for each app
that includes its router, with that app's dependencies. For our routes the two builds were
about a fifth of a start, the second paid by the first request (the health probe walks
every included router on its way to ``/health``).

A ``DeferredRouter`` only records its path operations. ``include`` builds them straight on
the app's router, with the dependencies ``include_router`` would have added and in the same
order: the routes, their behaviour and the OpenAPI document are those of ``include_router``.
Anything that reads ``router.routes`` (another app's ``include_router`` too) gets them built
there, as from a plain ``APIRouter``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, params
from starlette.routing import BaseRoute

__all__ = ["DeferredRouter", "include"]


@dataclass(frozen=True)
class _Operation:
    kind: Literal["http", "websocket"]
    path: str
    endpoint: Callable[..., Any]
    options: dict[str, Any]


class DeferredRouter(APIRouter):
    """An ``APIRouter`` (prefix, tags and dependencies only) that defers building its routes.

    Declare every route before the router is used, as our modules do when imported.
    """

    def __init__(
        self,
        *,
        prefix: str = "",
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
    ) -> None:
        self._operations: list[_Operation] = []
        self._built: list[BaseRoute] = []
        self._built_count = 0  # operations built into ``_built``
        super().__init__(prefix=prefix, tags=tags, dependencies=dependencies)

    def add_api_route(
        self, path: str, endpoint: Callable[..., Any], *args: Any, **options: Any
    ) -> None:
        assert not args, "FastAPI passes route options by keyword"
        self._operations.append(_Operation("http", path, endpoint, options))

    def add_api_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        name: str | None = None,
        *,
        dependencies: Sequence[params.Depends] | None = None,
    ) -> None:
        options = {"name": name, "dependencies": dependencies}
        self._operations.append(_Operation("websocket", path, endpoint, options))

    @property
    def routes(self) -> list[BaseRoute]:
        """The routes, built here (once) from the operations recorded since the last read."""
        if self._built_count < len(self._operations):
            target = APIRouter(prefix=self.prefix, tags=self.tags, dependencies=self.dependencies)
            for operation in self._operations[self._built_count :]:
                _build(operation, target, dependencies=())
            self._built.extend(target.routes)
            self._built_count = len(self._operations)
        return self._built

    @routes.setter
    def routes(self, value: list[BaseRoute]) -> None:
        self._built = value

    def build_on(self, app_router: APIRouter, dependencies: Sequence[params.Depends]) -> None:
        """Build every operation on ``app_router`` as if this router were included there
        with ``dependencies``: full path, this router's tags and dependencies after those."""
        for operation in self._operations:
            _build(
                operation,
                app_router,
                dependencies=[*dependencies, *self.dependencies],
                prefix=self.prefix,
                tags=self.tags,
            )


def _build(
    operation: _Operation,
    target: APIRouter,
    *,
    dependencies: Sequence[params.Depends],
    prefix: str = "",
    tags: Sequence[str | Enum] = (),
) -> None:
    options = dict(operation.options)
    options["dependencies"] = [*dependencies, *(options.get("dependencies") or [])]
    path = prefix + operation.path
    if operation.kind == "websocket":
        target.add_api_websocket_route(path, operation.endpoint, **options)
        return
    options["tags"] = [*tags, *(options.get("tags") or [])]
    target.add_api_route(path, operation.endpoint, **options)


def include(app: FastAPI, router: APIRouter, dependencies: Sequence[params.Depends]) -> None:
    """``app.include_router(router, dependencies=...)``, a ``DeferredRouter`` built once."""
    if isinstance(router, DeferredRouter):
        router.build_on(app.router, dependencies)
    else:
        app.include_router(router, dependencies=list(dependencies))
