"""``DeferredRouter``: built once in the app, the same routes as ``include_router``."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Depends, FastAPI, Header, HTTPException, WebSocket
from fastapi.routing import APIRoute, APIWebSocketRoute
from pydantic import BaseModel

from prefect_trio_server.api.routing import DeferredRouter, include

_CALLS: list[str] = []


async def app_dependency(x_app: Annotated[str | None, Header()] = None) -> None:
    _CALLS.append("app")


async def include_dependency(x_version: Annotated[str | None, Header()] = None) -> None:
    _CALLS.append("include")
    if x_version == "bad":
        raise HTTPException(status_code=400, detail="bad version")


async def router_dependency() -> None:
    _CALLS.append("router")


async def route_dependency() -> None:
    _CALLS.append("route")


class Item(BaseModel):
    name: str
    size: int = 1


def _declare(router: APIRouter) -> None:
    @router.post("/", status_code=201, response_model=Item, tags=["Extra"])
    async def create_item(item: Item, note: Annotated[str, Body()] = "") -> Item:
        """Create an item.

        \f
        Not in the OpenAPI description."""
        return item

    @router.get("/{item_id}", dependencies=[Depends(route_dependency)], deprecated=True)
    async def read_item(item_id: int) -> dict[str, Any]:
        return {"id": item_id}

    @router.websocket("/socket")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()


def _app(router: APIRouter) -> FastAPI:
    app = FastAPI(dependencies=[Depends(app_dependency)])
    include(app, router, [Depends(include_dependency)])
    return app


def _routers() -> tuple[APIRouter, DeferredRouter]:
    plain = APIRouter(prefix="/items", tags=["Items"], dependencies=[Depends(router_dependency)])
    deferred = DeferredRouter(
        prefix="/items", tags=["Items"], dependencies=[Depends(router_dependency)]
    )
    _declare(plain)
    _declare(deferred)
    return plain, deferred


def test_openapi_and_routes_match_include_router() -> None:
    plain, deferred = _routers()
    included, built = _app(plain), _app(deferred)
    assert built.openapi() == included.openapi()
    routes = [r for r in built.routes if isinstance(r, APIRoute)]
    assert [(r.path, r.methods, r.tags, r.unique_id) for r in routes] == [
        ("/items/", {"POST"}, ["Items", "Extra"], "create_item_items__post"),
        ("/items/{item_id}", {"GET"}, ["Items"], "read_item_items__item_id__get"),
    ]
    assert all(r.dependency_overrides_provider is built for r in routes)


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_requests_run_the_dependencies_in_include_order() -> None:
    _, deferred = _routers()
    async with _client(_app(deferred)) as client:
        _CALLS.clear()
        assert (await client.get("/items/7")).json() == {"id": 7}
        assert _CALLS == ["app", "include", "router", "route"]
        response = await client.post("/items/", json={"item": {"name": "a"}, "note": "n"})
        assert response.status_code == 201
        assert response.json() == {"name": "a", "size": 1}
        assert (await client.get("/items/7", headers={"x-version": "bad"})).status_code == 400
        assert (await client.post("/items/", json={"item": {}})).status_code == 422


def test_websocket_routes_get_the_dependencies() -> None:
    _, deferred = _routers()
    app = _app(deferred)
    (socket,) = [r for r in app.routes if isinstance(r, APIWebSocketRoute)]
    assert socket.path == "/items/socket"
    calls = [sub.call for sub in socket.dependant.dependencies]
    assert calls == [app_dependency, include_dependency, router_dependency]


async def test_dependency_overrides_apply() -> None:
    _, deferred = _routers()
    app = _app(deferred)

    async def refuse() -> None:
        raise HTTPException(status_code=418)

    app.dependency_overrides[route_dependency] = refuse
    async with _client(app) as client:
        assert (await client.get("/items/1")).status_code == 418


async def test_routes_are_built_for_whoever_reads_them() -> None:
    """Read as a plain router (``include_router`` into another app), it has its routes."""
    plain, deferred = _routers()
    assert [r.path for r in deferred.routes] == [r.path for r in plain.routes]
    assert _app(deferred).openapi() == _app(plain).openapi()  # read first, built again
    other = FastAPI()
    other.include_router(deferred, prefix="/v2")
    async with _client(other) as client:
        assert (await client.get("/v2/items/3")).json() == {"id": 3}
