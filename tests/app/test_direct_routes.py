"""Direct routes: the same answers as FastAPI's, and FastAPI's own for anything unusual."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body, Depends, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import Mount

from prefect_trio_server.app.middleware.direct_routes import (
    DirectRoutesMiddleware,
    direct_routes_of,
)
from prefect_trio_server.server import create_app
from prefect_trio_server.settings import Settings

# -- which routes are direct ---------------------------------------------------------------


def _direct_api_routes() -> set[tuple[str, str]]:
    api = create_app(Settings(ui_enabled=False), ignore_cache=True).state.api_app
    return {
        (method, route.path)
        for route in direct_routes_of(api.router.routes)
        for method in route.methods  # type: ignore[attr-defined]
    }


def test_the_hot_routes_are_direct_and_unusual_ones_are_not(tmp_path: Path) -> None:
    direct = _direct_api_routes()
    for hot in [
        ("POST", "/flow_runs/"),
        ("POST", "/flow_runs/{id}/set_state"),
        ("POST", "/flow_runs/filter"),
        ("POST", "/task_runs/filter"),
        ("POST", "/logs/filter"),
        ("GET", "/flow_runs/{id}"),
    ]:
        assert hot in direct
    # Takes the Response to set its status: FastAPI's to answer.
    assert ("POST", "/task_runs/") not in direct
    # Returns a model that FastAPI serialises.
    assert ("GET", "/task_runs/{id}") not in direct
    # Takes the Request.
    assert ("POST", "/logs/") not in direct


# -- the same answers through the whole app ----------------------------------------------


class Pair:
    """One client on an app with direct routes, one on an app without; same requests."""

    def __init__(self, direct: httpx.AsyncClient, plain: httpx.AsyncClient) -> None:
        self.direct = direct
        self.plain = plain

    async def both(self, method: str, url: str, **kwargs: Any) -> tuple[Any, Any]:
        answers = []
        for client in (self.direct, self.plain):
            response = await client.request(method, url, **kwargs)
            answers.append((response.status_code, _normalised(response)))
        return answers[0], answers[1]

    async def same(self, method: str, url: str | tuple[str, str], **kwargs: Any) -> Any:
        """The answer of both apps (asserted equal, ids and times aside)."""
        urls = (url, url) if isinstance(url, str) else url
        answers = []
        for client, target in zip((self.direct, self.plain), urls, strict=True):
            response = await client.request(method, target, **kwargs)
            answers.append((response.status_code, _normalised(response), response))
        (status_d, body_d, response_d), (status_p, body_p, _) = answers
        assert (status_d, body_d) == (status_p, body_p), (method, url, kwargs)
        return response_d


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_TIMING_KEYS = {"estimated_run_time", "estimated_start_time_delta", "total_run_time", "name"}


def _normalised(response: httpx.Response) -> Any:
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        return text

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "<v>" if k in _TIMING_KEYS else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return _TIME.sub("<time>", _UUID.sub("<id>", value))
        return value

    return walk(body)


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    apps = [
        create_app(
            Settings(home=tmp_path / name, ui_enabled=False, direct_routes=direct),
            ignore_cache=True,
        )
        for name, direct in (("direct", True), ("plain", False))
    ]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://server/api")
        for app in apps
    ]
    async with (
        apps[0].router.lifespan_context(apps[0]),
        apps[1].router.lifespan_context(apps[1]),
        clients[0],
        clients[1],
    ):
        yield Pair(*clients)


def _ids(pair_of_responses: list[httpx.Response]) -> tuple[str, str]:
    return tuple(r.json()["id"] for r in pair_of_responses)  # type: ignore[return-value]


async def _flow_runs(pair: Pair) -> tuple[str, str]:
    flows = [await c.post("/flows/", json={"name": "f"}) for c in (pair.direct, pair.plain)]
    flow_ids = _ids(flows)
    runs = [
        await c.post("/flow_runs/", json={"flow_id": f, "state": {"type": "SCHEDULED"}})
        for c, f in zip((pair.direct, pair.plain), flow_ids, strict=True)
    ]
    assert [r.status_code for r in runs] == [201, 201]
    return _ids(runs)


async def test_writes_answer_the_same(pair: Pair) -> None:
    direct_run, plain_run = await _flow_runs(pair)
    runs = (f"/flow_runs/{direct_run}/set_state", f"/flow_runs/{plain_run}/set_state")
    for state in ("PENDING", "RUNNING"):
        answer = await pair.same("POST", runs, json={"state": {"type": state}})
        assert answer.status_code == 201
        assert answer.json()["status"] == "ACCEPT"
    # Rejected by the orchestration rules: 200, same details.
    assert (await pair.same("POST", runs, json={"state": {"type": "PENDING"}})).status_code == 200
    forced = await pair.same("POST", runs, json={"state": {"type": "PENDING"}, "force": True})
    assert forced.status_code == 201
    versioned = await pair.same(
        "POST",
        runs,
        json={"state": {"type": "RUNNING"}},
        headers={"X-Prefect-API-Version": "0.8.4"},
    )
    assert versioned.status_code == 201


async def test_errors_are_fastapis_own(pair: Pair) -> None:
    direct_run, plain_run = await _flow_runs(pair)
    runs = (f"/flow_runs/{direct_run}/set_state", f"/flow_runs/{plain_run}/set_state")
    running = {"json": {"state": {"type": "RUNNING"}}}
    cases: list[tuple[str, str | tuple[str, str], dict[str, Any], int]] = [
        # Path, body and JSON trouble: FastAPI's 422 with the offending field.
        ("POST", "/flow_runs/not-a-uuid/set_state", running, 422),
        ("POST", runs, {"json": {}}, 422),
        ("POST", runs, {"json": {"state": None}}, 422),
        ("POST", runs, {"json": {"state": {"type": "NOPE"}}}, 422),
        ("POST", runs, {"json": {"state": {"type": "RUNNING"}, "force": "maybe"}}, 422),
        ("POST", runs, {"json": [1, 2]}, 422),
        ("POST", runs, {"json": None}, 422),
        ("POST", runs, {"content": b'{"state": '}, 422),
        ("POST", runs, {"content": b""}, 422),
        ("POST", runs, {"content": b"state", "headers": {"Content-Type": "text/plain"}}, 422),
        ("POST", "/flow_runs/", {"json": {"flow_id": "nope"}}, 422),
        ("POST", "/flow_runs/", {"json": {}}, 422),
        ("POST", "/flow_runs/filter", {"json": {"limit": "many"}}, 422),
        ("POST", "/flow_runs/filter", {"json": {"flow_runs": {"id": {"any_": ["x"]}}}}, 422),
        ("POST", "/logs/filter", {"json": {"offset": -1}}, 422),
        # Raised by the endpoint: the error boundary's answer, both ways.
        ("POST", "/flow_runs/filter", {"json": {"limit": 100000}}, 422),
        ("POST", f"/flow_runs/{uuid.uuid4()}/set_state", running, 404),
        ("GET", f"/flow_runs/{uuid.uuid4()}", {}, 404),
        # Client version checks.
        ("POST", runs, {**running, "headers": {"X-Prefect-API-Version": "1.2"}}, 400),
        ("POST", runs, {**running, "headers": {"X-Prefect-API-Version": "0.0.1"}}, 400),
        # Routing: not found, wrong method, HEAD.
        ("POST", "/flow_runs/filter/extra", {"json": {}}, 404),
        ("GET", runs, {}, 405),
        ("HEAD", f"/flow_runs/{direct_run}", {}, 405),
    ]
    for method, url, kwargs, status in cases:
        answer = await pair.same(method, url, **kwargs)
        assert answer.status_code == status, (method, url, kwargs, answer.text)


async def test_reads_answer_the_same(pair: Pair) -> None:
    direct_run, plain_run = await _flow_runs(pair)
    for body in [
        {"limit": 5},
        {},
        {"sort": "EXPECTED_START_TIME_DESC", "offset": 0},
        {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}},
        {"limit": None, "extra": 1},
    ]:
        listed = await pair.same("POST", "/flow_runs/filter", json=body)
        assert listed.status_code == 200
        assert len(listed.json()) == 1
        assert (await pair.same("POST", "/task_runs/filter", json=body)).status_code == 200
    assert (await pair.same("POST", "/logs/filter", json={"limit": 3})).json() == []
    assert (await pair.same("POST", "/flow_runs/paginate", json={"page": 1})).json()["count"] == 1
    read = await pair.same("GET", (f"/flow_runs/{direct_run}", f"/flow_runs/{plain_run}"))
    assert read.json()["id"] == direct_run


# -- what reaches FastAPI -------------------------------------------------------------------


def _count_fastapi_calls(app: FastAPI) -> dict[str, int]:
    """Count, per route path, the requests FastAPI's own route handler answers."""
    calls: dict[str, int] = {}
    for route in app.router.routes:
        if isinstance(route, APIRoute):
            inner = route.app

            async def counting(
                scope: Any, receive: Any, send: Any, inner: Any = inner, path: str = route.path
            ) -> None:
                calls[path] = calls.get(path, 0) + 1
                await inner(scope, receive, send)

            route.app = counting
    return calls


async def test_plain_requests_skip_fastapi_and_unusual_ones_reach_it(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path, ui_enabled=False), ignore_cache=True)
    calls = _count_fastapi_calls(app.state.api_app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://server/api"
        ) as http,
    ):
        flow = (await http.post("/flows/", json={"name": "f"})).json()["id"]
        run = (
            await http.post("/flow_runs/", json={"flow_id": flow, "state": {"type": "SCHEDULED"}})
        ).json()["id"]
        assert (
            await http.post(f"/flow_runs/{run}/set_state", json={"state": {"type": "PENDING"}})
        ).status_code == 201
        assert (await http.post("/flow_runs/filter", json={"limit": 1})).status_code == 200
        assert calls == {"/flows/": 1}  # /flows/ takes the Response: not direct

        bad = await http.post(f"/flow_runs/{run}/set_state", json={"state": {"type": "NOPE"}})
        assert bad.status_code == 422
        assert bad.json()["exception_detail"][0]["loc"] == ["body", "state", "type"]
        assert calls["/flow_runs/{id}/set_state"] == 1


async def test_dependency_overrides_are_fastapis_to_apply(tmp_path: Path) -> None:
    from prefect_trio_server.api.dependencies import get_settings

    app = create_app(Settings(home=tmp_path, ui_enabled=False), ignore_cache=True)
    api = app.state.api_app
    calls = _count_fastapi_calls(api)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://server/api"
        ) as http,
    ):
        api.dependency_overrides[get_settings] = lambda: Settings(
            home=tmp_path, ui_enabled=False, api_default_limit=1
        )
        too_many = await http.post("/logs/filter", json={"limit": 2})
        assert too_many.status_code == 422  # the overriding settings' limit
        assert calls == {"/logs/filter": 1}


# -- the middleware on its own ----------------------------------------------------------------


class Teapot(Exception):
    pass


def custom() -> int:
    return 1


def _toy_app(direct: bool) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(Teapot)
    async def teapot(request: Any, exc: Exception) -> JSONResponse:
        return JSONResponse({"teapot": str(exc)}, status_code=418)

    @app.post("/items/{item_id}")
    async def item(
        item_id: Annotated[uuid.UUID, PathParam()],
        count: Annotated[int, Body()] = 1,
        tags: Annotated[list[str], Body()] = [],  # noqa: B006
    ) -> Response:
        if count == 0:
            raise HTTPException(status_code=409, detail="zero", headers={"X-Why": "zero"})
        if count == 13:
            raise Teapot("unlucky")
        return JSONResponse({"id": str(item_id), "count": count, "tags": tags})

    @app.post("/whole")
    async def whole(numbers: list[int]) -> Response:
        return JSONResponse({"sum": sum(numbers)})

    @app.get("/query")
    async def query(q: Annotated[int, Query()] = 0) -> Response:
        return JSONResponse({"q": q})

    @app.get("/custom")
    async def with_custom(value: Annotated[int, Depends(custom)]) -> Response:
        return JSONResponse({"value": value})

    @app.get("/int/{n:int}")
    async def typed(n: int) -> Response:
        return JSONResponse({"n": n})

    @app.get("/model")
    async def model() -> dict[str, int]:
        return {"a": 1}

    app.router.routes.insert(0, Mount("/mounted", app=JSONResponse({"mount": True})))

    @app.get("/mounted/{x}")
    async def shadowed(x: str) -> Response:
        return JSONResponse({"shadowed": x})

    if direct:
        app.add_middleware(DirectRoutesMiddleware, api_app=app)
    return app


def test_which_toy_routes_are_direct() -> None:
    app = _toy_app(direct=False)
    assert sorted(r.path for r in direct_routes_of(app.router.routes)) == [  # type: ignore[attr-defined]
        "/items/{item_id}",
        "/mounted/{x}",
        "/whole",
    ]


@pytest.fixture
async def toys() -> AsyncIterator[Callable[..., Any]]:
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=_toy_app(d)), base_url="http://t")
        for d in (True, False)
    ]

    async def same(method: str, url: str, **kwargs: Any) -> httpx.Response:
        answers = [await c.request(method, url, **kwargs) for c in clients]
        direct, plain = answers
        assert (direct.status_code, direct.text, direct.headers.get("x-why")) == (
            plain.status_code,
            plain.text,
            plain.headers.get("x-why"),
        ), (method, url, kwargs)
        return direct

    async with clients[0], clients[1]:
        yield same


async def test_toy_routes_answer_the_same(toys: Callable[..., Any]) -> None:
    item = f"/items/{uuid.uuid4()}"
    assert (await toys("POST", item, json={"count": 2, "tags": ["a"]})).json()["count"] == 2
    assert (await toys("POST", item, json={})).json() == {"id": item[7:], "count": 1, "tags": []}
    assert (await toys("POST", item, json={"count": 0})).status_code == 409
    assert (await toys("POST", item, json={"count": 13})).json() == {"teapot": "unlucky"}
    assert (await toys("POST", item, json={"count": "x"})).status_code == 422
    assert (await toys("POST", item, json={"tags": None})).status_code == 422
    assert (await toys("POST", "/items/1", json={})).status_code == 422
    assert (await toys("POST", "/whole", json=[1, 2, 3])).json() == {"sum": 6}
    assert (await toys("POST", "/whole", json={"numbers": [1]})).status_code == 422
    assert (await toys("GET", "/query?q=3")).json() == {"q": 3}
    assert (await toys("GET", "/custom")).json() == {"value": 1}
    assert (await toys("GET", "/int/4")).json() == {"n": 4}
    assert (await toys("GET", "/model")).json() == {"a": 1}
    # An earlier mount takes the path, as FastAPI's router would have it.
    assert (await toys("GET", "/mounted/x")).json() == {"mount": True}


async def test_a_body_in_several_messages_or_cut_short() -> None:
    item = f"/items/{uuid.uuid4()}".encode()

    async def call(
        messages: list[dict[str, Any]], app: FastAPI | None = None
    ) -> list[dict[str, Any]]:
        app = app or _toy_app(direct=True)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": item.decode(),
            "raw_path": item,
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("t", 80),
        }
        pending = list(messages)
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    parts = [b'{"count": ', b"5}"]
    sent = await call(
        [{"type": "http.request", "body": p, "more_body": i == 0} for i, p in enumerate(parts)]
    )
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["count"] == 5

    # The client goes away mid-body: FastAPI sees the same messages, and answers as always.
    cut_short = [{"type": "http.request", "body": b'{"co', "more_body": True}]
    sent = await call(cut_short)
    assert sent == await call(cut_short, _toy_app(direct=False))
    assert sent[0]["status"] == 400
