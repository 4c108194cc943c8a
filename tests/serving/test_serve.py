"""The server on real sockets: HTTP/1.1, HTTP/2 over TLS, h2c, websockets, shutdown."""

from __future__ import annotations

import ssl
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from polling import wait_until_async
from prefect_trio_server.serving.serve import serve
from prefect_trio_server.settings import Settings


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_files(tmp_path: Path, certificate_authority: trustme.CA) -> tuple[Path, Path]:
    cert = certificate_authority.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return certfile, keyfile


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(home=tmp_path / "home", ui_enabled=False, port=0, **overrides)


async def never() -> None:
    await trio.sleep_forever()


async def start_server(nursery: trio.Nursery, settings: Settings, **kwargs: Any) -> str:
    async def run(task_status: trio.TaskStatus[list[str]]) -> None:
        await serve(settings, task_status=task_status, **kwargs)

    urls: list[str] = await nursery.start(run)
    return urls[0]


async def test_http1_and_h2c_prior_knowledge(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        url = await start_server(nursery, settings_for(tmp_path), shutdown_trigger=never)
        async with httpx.AsyncClient() as http1:
            response = await http1.get(f"{url}/api/health")
            assert (response.http_version, response.json()) == ("HTTP/1.1", True)
        async with httpx.AsyncClient(http1=False, http2=True) as h2c:
            responses = [await h2c.get(f"{url}/api/admin/version") for _ in range(3)]
            assert {r.http_version for r in responses} == {"HTTP/2"}
            assert responses[0].json().startswith("3.")
        nursery.cancel_scope.cancel()


async def test_a_long_lived_h2c_connection_is_never_rotated_under_its_requests(
    tmp_path: Path,
) -> None:
    # Hypercorn's own default closes a connection after 1000 requests; on HTTP/2 its GOAWAY
    # failed the requests httpx had in flight on the connection.
    async with trio.open_nursery() as nursery:
        url = await start_server(nursery, settings_for(tmp_path), shutdown_trigger=never)
        statuses: list[int] = []
        async with httpx.AsyncClient(http1=False, http2=True) as h2c:

            async def many() -> None:
                for _ in range(150):
                    statuses.append((await h2c.get(f"{url}/api/health")).status_code)

            async with trio.open_nursery() as clients:
                for _ in range(8):
                    clients.start_soon(many)
        assert statuses == [200] * 1200
        nursery.cancel_scope.cancel()


def test_requests_per_connection_can_be_limited(tmp_path: Path) -> None:
    from prefect_trio_server.serving.config import hypercorn_config

    assert hypercorn_config(settings_for(tmp_path)).keep_alive_max_requests > 10**9
    limited = settings_for(tmp_path, keep_alive_max_requests=500)
    assert hypercorn_config(limited).keep_alive_max_requests == 500


async def test_http2_over_tls_with_alpn(
    tmp_path: Path, tls_files: tuple[Path, Path], certificate_authority: trustme.CA
) -> None:
    certfile, keyfile = tls_files
    settings = settings_for(tmp_path, tls_certfile=certfile, tls_keyfile=keyfile)
    context = ssl.create_default_context()
    certificate_authority.configure_trust(context)
    async with trio.open_nursery() as nursery:
        url = await start_server(nursery, settings, shutdown_trigger=never)
        assert url.startswith("https://")
        async with httpx.AsyncClient(http2=True, verify=context) as client:
            response = await client.get(f"{url}/api/health")
            assert (response.http_version, response.json()) == ("HTTP/2", True)
        async with httpx.AsyncClient(verify=context) as client:
            assert (await client.get(f"{url}/api/health")).http_version == "HTTP/1.1"
        nursery.cancel_scope.cancel()


def small_app(lifespan_log: list[str]) -> Starlette:
    """A slow route, a websocket echo, and a lifespan that logs."""

    async def slow(request: Request) -> PlainTextResponse:
        request.app.state.slow_started.set()
        await trio.sleep(float(request.query_params.get("s", "1")))
        return PlainTextResponse("done")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        message = await websocket.receive_text()
        await websocket.send_text(f"echo:{message}")
        await websocket.close()

    @asynccontextmanager
    async def lifespan(_app: Starlette):  # type: ignore[no-untyped-def]
        lifespan_log.append("startup")
        yield
        lifespan_log.append("shutdown")

    app = Starlette(routes=[Route("/slow", slow), WebSocketRoute("/ws", echo)], lifespan=lifespan)
    app.state.slow_started = trio.Event()
    return app


async def test_websockets(tmp_path: Path) -> None:
    from trio_websocket import open_websocket_url

    async with trio.open_nursery() as nursery:
        url = await start_server(
            nursery, settings_for(tmp_path), app=small_app([]), shutdown_trigger=never
        )
        async with open_websocket_url(url.replace("http", "ws", 1) + "/ws") as ws:
            await ws.send_message("hi")
            assert await ws.get_message() == "echo:hi"
        nursery.cancel_scope.cancel()


async def test_graceful_shutdown_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    log: list[str] = []
    app = small_app(log)
    stop = trio.Event()
    results: list[str] = []
    async with trio.open_nursery() as nursery:
        url = await start_server(
            nursery,
            settings_for(tmp_path, graceful_timeout=30),
            app=app,
            shutdown_trigger=stop.wait,
        )
        assert log == ["startup"]

        async def slow_request() -> None:
            async with httpx.AsyncClient() as client:
                results.append((await client.get(f"{url}/slow?s=0.5")).text)

        nursery.start_soon(slow_request)
        await app.state.slow_started.wait()
        stop.set()

        # New connections are refused while the in-flight request finishes.
        async def refused() -> bool:
            try:
                async with httpx.AsyncClient() as client:
                    await client.get(f"{url}/slow?s=0")
            except httpx.ConnectError:
                return True
            return False

        await wait_until_async(refused, deadline=10)
    assert results == ["done"]
    assert log == ["startup", "shutdown"]


async def test_graceful_timeout_cuts_requests_that_run_too_long(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    log: list[str] = []
    app = small_app(log)
    stop = trio.Event()
    outcomes: list[str] = []
    async with trio.open_nursery() as nursery:
        url = await start_server(
            nursery,
            settings_for(tmp_path, graceful_timeout=2),
            app=app,
            shutdown_trigger=stop.wait,
        )

        async def slow_request() -> None:
            async with httpx.AsyncClient() as client:
                try:
                    await client.get(f"{url}/slow?s=600")
                    outcomes.append("finished")
                except httpx.HTTPError:
                    outcomes.append("cut")

        nursery.start_soon(slow_request)
        await app.state.slow_started.wait()
        stopped_at = trio.current_time()
        stop.set()
    assert trio.current_time() - stopped_at < 600
    assert outcomes == ["cut"]
    assert log == ["startup", "shutdown"]
