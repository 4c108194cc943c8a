"""The root app sends API requests straight to the API app: the same answers as its full stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prefect_trio_server.app.full_app import RootApp
from prefect_trio_server.server import create_app
from prefect_trio_server.settings import Settings

ORIGIN = "http://ui.example"


class TagResponses:
    """Adds ``x-root-layer: 1`` to every response: shows which requests pass the root's stack."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-root-layer", b"1")]
            await send(message)

        await self.app(scope, receive, tagged)


def _settings(tmp_path: Path, name: str) -> Settings:
    return Settings(
        home=tmp_path / name,
        ui_enabled=True,
        cors_allowed_origins=ORIGIN,  # type: ignore[arg-type]
    )


Clients = tuple[Any, httpx.AsyncClient, httpx.AsyncClient]


@pytest.fixture
async def clients(tmp_path: Path) -> AsyncIterator[Clients]:
    """(the fast app, a client of it, a client of an app whose root takes its full stack)."""
    fast = create_app(_settings(tmp_path, "fast"), ignore_cache=True)
    full = create_app(_settings(tmp_path, "full"), ignore_cache=True)
    # Any middleware of one's own on the root sends every request through the root's stack;
    # this one changes nothing but the answers' headers, which the comparison leaves out.
    full.user_middleware.insert(0, Middleware(TagResponses))
    async with (
        fast.router.lifespan_context(fast),
        full.router.lifespan_context(full),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=fast), base_url="http://s") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=full), base_url="http://s") as b,
    ):
        yield fast, a, b


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/health", {}),
    ("GET", "/api/health", {"headers": {"Origin": ORIGIN}}),
    ("GET", "/api/health", {"headers": {"Origin": "http://elsewhere.example"}}),
    (
        "OPTIONS",
        "/api/flows/",
        {"headers": {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}},
    ),
    ("POST", "/api/flows/", {"json": {"name": "same"}}),
    ("POST", "/api/flows/", {"json": {"name": 3}}),
    ("POST", "/api/flows/filter", {"content": b"{not json", "headers": {"Origin": ORIGIN}}),
    ("GET", "/api/no-such-route", {}),
    ("GET", "/api", {}),
    ("GET", "/", {}),
    ("GET", "/no-such-page", {}),
]


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {
        name: value
        for name, value in response.headers.items()
        # Each app serves its own copy of the UI files: their validators differ.
        if name not in ("x-root-layer", "date", "etag", "last-modified")
    }
    return response.status_code, headers, response.content


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
async def test_the_same_answers_as_the_full_stack(
    clients: Clients,
    method: str,
    path: str,
    options: dict[str, Any],
) -> None:
    _app, fast, full = clients
    by_fast = await fast.request(method, path, **options)
    by_full = await full.request(method, path, **options)
    assert by_full.headers["x-root-layer"] == "1"
    if path == "/api/flows/" and method == "POST" and by_fast.status_code < 300:
        # Each app has its own database: the flow's ids and times differ.
        assert by_fast.json().keys() == by_full.json().keys()
        assert by_fast.status_code == by_full.status_code
        return
    assert _comparable(by_fast) == _comparable(by_full)


async def test_api_requests_skip_the_root_stack_and_the_rest_take_it(
    clients: Clients,
) -> None:
    app, fast, _full = clients
    assert isinstance(app, RootApp)
    await fast.get("/api/health")
    seen: list[str] = []
    inner = app.middleware_stack._rest  # the root's full stack

    async def spy(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await inner(scope, receive, send)

    app.middleware_stack._rest = spy
    assert (await fast.get("/api/health")).status_code == 200
    assert (await fast.post("/api/flows/filter", json={})).status_code == 200
    assert (await fast.get("/")).status_code == 200
    assert (await fast.get("/apiary")).status_code in (200, 404)
    assert seen == ["/", "/apiary"]


async def test_root_middleware_of_ones_own_covers_the_api(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, "own"), ignore_cache=True)
    app.add_middleware(TagResponses)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as http,
    ):
        assert (await http.get("/api/health")).headers["x-root-layer"] == "1"
