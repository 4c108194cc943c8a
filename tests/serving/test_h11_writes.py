"""``CoalescingH11Protocol``: one write per sized response, streams not held back.

Each test serves an ASGI app on one end of a socketpair with the trio ``TCPServer`` that
Hypercorn uses once ``hypercorn_fixes`` is installed, records what the protocol writes,
and talks plain HTTP/1.1 from the other end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import hypercorn.protocol
import pytest
import trio
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.trio.worker_context import WorkerContext

from hypercorn_protocols import RecordingTCPServer, fixes_installed
from prefect_trio_server.serving import hypercorn_fixes
from prefect_trio_server.serving.h11_writes import ORIGINAL_H11_PROTOCOL, CoalescingH11Protocol

App = Callable[[dict[str, Any], Any, Any], Any]


@pytest.fixture(params=["coalescing", "upstream"])
def protocol(request: pytest.FixtureRequest) -> Iterator[str]:
    upstream = {"H11Protocol": ORIGINAL_H11_PROTOCOL} if request.param == "upstream" else {}
    with fixes_installed(**upstream):
        yield str(request.param)


def test_install_uses_the_coalescing_protocol() -> None:
    was_installed = hypercorn_fixes.installed()
    hypercorn_fixes.install()
    try:
        assert hypercorn.protocol.H11Protocol is CoalescingH11Protocol
    finally:
        if not was_installed:
            hypercorn_fixes.uninstall()
    if not was_installed:
        assert hypercorn.protocol.H11Protocol is ORIGINAL_H11_PROTOCOL


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[tuple[RecordingTCPServer, trio.SocketStream]]:
    server_socket, client_socket = trio.socket.socketpair()
    server = RecordingTCPServer(
        ASGIWrapper(app), Config(), WorkerContext(None), {}, trio.SocketStream(server_socket)
    )
    server.writes = []
    client = trio.SocketStream(client_socket)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.run)
        try:
            yield server, client
        finally:
            await client.aclose()
            nursery.cancel_scope.cancel()


async def read_until(client: trio.SocketStream, marker: bytes, seen: bytes = b"") -> bytes:
    with trio.fail_after(10):
        while marker not in seen:
            chunk = await client.receive_some()
            if not chunk:
                break
            seen += chunk
    return seen


def request(path: str = "/", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: 0\r\n\r\n".encode()


async def sized(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = scope["path"].encode() * 3
    await send(
        {
            "type": "http.response.start",
            "status": 200 if body != b"///" else 204,
            "headers": [(b"content-length", str(len(body) if body != b"///" else 0).encode())],
        }
    )
    await send({"type": "http.response.body", "body": b"" if body == b"///" else body})


async def test_a_sized_response_is_one_write(protocol: str) -> None:
    async with serving(sized) as (server, client):
        await client.send_all(request("/abc"))
        answer = await read_until(client, b"/abc/abc/abc")
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"\r\n\r\n/abc/abc/abc")
        # Keep-alive: the next request on the same connection, an empty body this time.
        await client.send_all(request("/"))
        empty = await read_until(client, b"\r\n\r\n")
        assert empty.startswith(b"HTTP/1.1 204")
    if protocol == "coalescing":
        assert [w.startswith(b"HTTP/1.1 ") for w in server.writes] == [True, True]
        assert server.writes[0].endswith(b"/abc/abc/abc")
    else:  # upstream: head, body, an empty end; head, an empty end
        assert [len(w) > 0 for w in server.writes] == [True, True, False, True, False]


async def test_a_stream_head_is_not_held_back(protocol: str) -> None:
    release = trio.Event()

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await release.wait()
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await send({"type": "http.response.body", "body": b"last"})

    async with serving(streaming) as (_, client):
        await client.send_all(request())
        head = await read_until(client, b"\r\n\r\n")  # before any of the body exists
        assert head.startswith(b"HTTP/1.1 200")
        assert b"transfer-encoding: chunked" in head.lower()
        release.set()
        rest = await read_until(client, b"0\r\n\r\n", head)
        assert b"first" in rest
        assert b"last" in rest


async def test_an_app_failing_after_its_head_closes_the_connection(protocol: str) -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]}
        )
        raise RuntimeError("boom")

    async with serving(failing) as (_, client):
        await client.send_all(request())
        with trio.fail_after(10):
            while await client.receive_some():
                pass  # whatever was sent, the connection ends instead of hanging
