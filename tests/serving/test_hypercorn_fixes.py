"""Tests for ``prefect_trio_server.serving.hypercorn_fixes``.

A server here is Hypercorn's own trio ``TCPServer`` serving one end of a socketpair, which
gives it a real ``trio.SocketStream``. A raw ``h2`` client drives the other end. Each
regression test gets the fixes from the ``fixed`` fixture. To see these tests fail without
the fixes, run them with ``PTS_TEST_WITHOUT_HYPERCORN_FIXES=1`` (or ``=tcp``, ``=h2`` to
revert only Hypercorn's TCPServer or only its H2Protocol).

Tests named ``test_upstream_*`` are canaries. They use Hypercorn's unfixed classes and
assert that the bugs are still there. If one of them fails after a Hypercorn upgrade,
upstream has fixed that bug, and the corresponding part of ``hypercorn_fixes`` can go.

Most tests run on trio's autojump clock: Hypercorn's keep-alive waits and our timeouts
pass in virtual time, and nothing waits on the wall clock.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import h2.config
import h2.connection
import h2.events
import hypercorn.protocol
import hypercorn.protocol.h2
import hypercorn.trio
import hypercorn.trio.run
import hypercorn.trio.tcp_server
import pytest
import trio
import trio.testing
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.events import Closed, Event, RawData
from hypercorn.trio.worker_context import WorkerContext

from prefect_trio_server.serving import hypercorn_fixes
from prefect_trio_server.serving.h2_writes import CoalescingH2Protocol
from prefect_trio_server.serving.hypercorn_fixes import (
    ORIGINAL_H2_PROTOCOL,
    ORIGINAL_TCP_SERVER,
    FixedH2Protocol,
    FixedTCPServer,
)

WITHOUT_FIXES = os.environ.get("PTS_TEST_WITHOUT_HYPERCORN_FIXES", "")

# The send/close race (bug a) depends on the order in which trio runs two tasks that wake in
# the same batch, and trio randomises that order. One GOAWAY hits the race about half the
# time, so 24 connections miss it with odds of roughly 1e-7.
RACE_ATTEMPTS = 24

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def fixed() -> Iterator[None]:
    """Hypercorn uses the fixed classes (unless PTS_TEST_WITHOUT_HYPERCORN_FIXES says no)."""
    was_installed = hypercorn_fixes.installed()
    hypercorn_fixes.install()
    assert hypercorn_fixes.installed()
    if WITHOUT_FIXES in ("1", "tcp"):
        hypercorn.trio.run.TCPServer = ORIGINAL_TCP_SERVER
    if WITHOUT_FIXES in ("1", "h2"):
        hypercorn.protocol.H2Protocol = ORIGINAL_H2_PROTOCOL
    yield
    _restore(was_installed)


@pytest.fixture
def upstream() -> Iterator[None]:
    """Hypercorn uses its own classes."""
    was_installed = hypercorn_fixes.installed()
    hypercorn_fixes.uninstall()
    yield
    _restore(was_installed)


def _restore(was_installed: bool) -> None:
    if was_installed:
        hypercorn_fixes.install()
    else:
        hypercorn_fixes.uninstall()


# --- a small ASGI app -------------------------------------------------------------------


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/early":
        # Refuse the upload without reading any of it.
        await _respond(send, 413, b"too large")
    elif path == "/echo":
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await _respond(send, 200, str(size).encode())
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(1000):
            await send({"type": "http.response.body", "body": b"s" * 512, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/big":
        await _respond(send, 200, b"b" * 2**20)
    else:
        await _respond(send, 200, b"ok")


async def _respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- a raw HTTP/2 client ----------------------------------------------------------------


class H2Client:
    """Just enough of an HTTP/2 client (prior knowledge, no TLS) to misbehave precisely."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.status: dict[int, int] = {}
        self.bodies: defaultdict[int, bytearray] = defaultdict(bytearray)
        self.ended: set[int] = set()
        self.eof = False

    async def start(self) -> None:
        self.h2.initiate_connection()
        await self.flush()

    async def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and not self.eof:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.eof = True

    async def request(self, method: bytes, path: bytes, *, end_stream: bool = True) -> int:
        stream_id: int = self.h2.get_next_available_stream_id()
        headers = [
            (b":method", method),
            (b":path", path),
            (b":scheme", b"http"),
            (b":authority", b"test"),
        ]
        self.h2.send_headers(stream_id, headers, end_stream=end_stream)
        await self.flush()
        return stream_id

    async def _read(self) -> bytes:
        try:
            data = await self.stream.receive_some(2**16)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            self.eof = True
        return bytes(data)

    async def receive(self) -> None:
        """Read once and process what came; acknowledge all DATA (we keep reading)."""
        data = await self._read()
        if not data:
            return
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                assert event.stream_id is not None
                self.status[event.stream_id] = int(dict(event.headers or [])[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                assert event.stream_id is not None
                self.bodies[event.stream_id] += event.data or b""
                self.h2.acknowledge_received_data(
                    event.flow_controlled_length or 0, event.stream_id
                )
            elif isinstance(event, h2.events.StreamEnded):
                assert event.stream_id is not None
                self.ended.add(event.stream_id)
        await self.flush()

    async def receive_until(self, done: Callable[[], bool]) -> None:
        while not done():
            if self.eof:
                raise ConnectionError("the server closed the connection")
            await self.receive()

    async def send_body(self, stream_id: int, data: bytes, *, end_stream: bool) -> None:
        """Send ``data`` on ``stream_id``, waiting for the server to open flow control."""
        view = memoryview(data)
        while view:
            allowed = min(
                self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size
            )
            if allowed <= 0:
                if self.eof:
                    raise ConnectionError("the server closed the connection")
                await self.receive()  # wait for a WINDOW_UPDATE
                continue
            self.h2.send_data(stream_id, view[:allowed].tobytes())
            view = view[allowed:]
            await self.flush()
        if end_stream:
            self.h2.end_stream(stream_id)
            await self.flush()

    async def drain(self) -> None:
        """Read raw bytes until the server closes (the h2 state may be closed already)."""
        while not self.eof:
            await self._read()


# --- serving one connection over a socketpair -------------------------------------------


@dataclass
class Connection:
    server: Any
    client: H2Client
    error: BaseException | None = None
    finished: trio.Event = field(default_factory=trio.Event)


async def _run_server(connection: Connection) -> None:
    try:
        await connection.server.run()
    except Exception as exc:  # the crash under test, kept for the test to look at
        connection.error = exc
    finally:
        connection.finished.set()


@asynccontextmanager
async def serve_connection(
    server_class: type[Any] | None = None,
    *,
    expect_crash: bool = False,
    finish_within: float | None = 600.0,
) -> AsyncIterator[Connection]:
    """Serve ``app`` on one connection with the TCPServer that Hypercorn would use now.

    On exit the client closes and the server gets ``finish_within`` (virtual) seconds to
    finish. A server crash is raised, unless ``expect_crash``; then it is left in
    ``connection.error`` for the test. ``finish_within=None`` gives up waiting
    immediately: the hang canary checks ``connection.finished`` itself.
    """
    server_socket, client_socket = trio.socket.socketpair()
    if server_class is None:
        server_class = hypercorn.trio.run.TCPServer
    server = server_class(
        ASGIWrapper(app), Config(), WorkerContext(None), {}, trio.SocketStream(server_socket)
    )
    connection = Connection(server, H2Client(trio.SocketStream(client_socket)))
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_run_server, connection)
            try:
                await connection.client.start()
                yield connection
            finally:
                await connection.client.stream.aclose()
                if finish_within is not None:
                    with trio.move_on_after(finish_within):
                        await connection.finished.wait()
                hung = not connection.finished.is_set()
                nursery.cancel_scope.cancel()
        if hung and finish_within is not None:
            raise AssertionError(f"the server did not finish within {finish_within}s")
    finally:
        # A server crash explains whatever the client ran into, so it goes first.
        if connection.error is not None and not expect_crash:
            raise connection.error


def _exceptions(error: BaseException | None) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for sub in error.exceptions for leaf in _exceptions(sub)]
    return [] if error is None else [error]


# --- scenarios --------------------------------------------------------------------------


async def goaway_while_streaming(client: H2Client, streams: int = 10) -> None:
    """Start several streamed responses, then send GOAWAY while the server is still sending.

    GOAWAY makes Hypercorn call ``TCPServer._close()`` (send_eof, then aclose) from the task
    that reads. The send task and the apps' tasks are still writing at that moment.
    """
    stream_ids = [await client.request(b"GET", b"/stream") for _ in range(streams)]
    await client.receive_until(lambda: sum(len(client.bodies[i]) for i in stream_ids) > 2**16)
    client.h2.close_connection()
    await client.flush()
    await client.drain()


async def data_after_early_response(connection: Connection) -> int:
    """Let the app answer 413 and finish the stream, then keep uploading to that stream.

    Returns the id of the refused stream. Afterwards the client has used all its connection
    flow-control window on the refused stream.
    """
    client = connection.client
    refused = await client.request(b"POST", b"/early", end_stream=False)
    await client.receive_until(lambda: refused in client.ended)
    # The server and the client share this trio run: once everything is blocked, the app
    # has returned and Hypercorn has removed the stream.
    await trio.testing.wait_all_tasks_blocked()
    assert refused not in connection.server.protocol.protocol.streams
    assert client.status[refused] == 413
    # 65535 bytes: all of the stream's and the connection's initial window.
    await client.send_body(refused, b"u" * 65535, end_stream=False)
    return refused


# --- install / uninstall ----------------------------------------------------------------


def test_install_rebinds_hypercorn_names_and_uninstall_restores(upstream: None) -> None:
    assert hypercorn.trio.run.TCPServer is ORIGINAL_TCP_SERVER
    assert hypercorn.protocol.H2Protocol is ORIGINAL_H2_PROTOCOL
    hypercorn_fixes.install()
    hypercorn_fixes.install()  # idempotent
    assert hypercorn.trio.run.TCPServer is FixedTCPServer
    # The HTTP/2 protocol is h2_writes' subclass, which keeps FixedH2Protocol's fixes.
    assert hypercorn.protocol.H2Protocol is CoalescingH2Protocol
    assert issubclass(CoalescingH2Protocol, FixedH2Protocol)
    assert hypercorn_fixes.installed()
    # The defining modules keep the originals.
    assert hypercorn.trio.tcp_server.TCPServer is ORIGINAL_TCP_SERVER
    assert hypercorn.protocol.h2.H2Protocol is ORIGINAL_H2_PROTOCOL
    hypercorn_fixes.uninstall()
    assert hypercorn.trio.run.TCPServer is ORIGINAL_TCP_SERVER
    assert hypercorn.protocol.H2Protocol is ORIGINAL_H2_PROTOCOL
    assert not hypercorn_fixes.installed()


@pytest.mark.parametrize(
    ("version", "applies"), [("0.18.0", True), ("0.18.7", True), ("0.19.0", False), ("1.0", False)]
)
def test_install_applies_only_to_hypercorn_0_18(
    upstream: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    version: str,
    applies: bool,
) -> None:
    monkeypatch.setattr(hypercorn_fixes.metadata, "version", lambda name: version)
    with caplog.at_level(logging.WARNING, logger=hypercorn_fixes.__name__):
        hypercorn_fixes.install()
    assert hypercorn_fixes.installed() is applies
    assert ("not applying" in caplog.text) is not applies


def test_running_hypercorn_is_0_18() -> None:
    """The tests below were written against 0.18; a new series needs a fresh look."""
    assert hypercorn_fixes._series(hypercorn_fixes.metadata.version("hypercorn")) == (0, 18)


# --- bug (a): send_all racing send_eof on close ------------------------------------------


async def test_goaway_while_responses_stream_does_not_crash(
    fixed: None, autojump_clock: trio.testing.MockClock
) -> None:
    for _ in range(RACE_ATTEMPTS):
        async with serve_connection() as connection:
            await goaway_while_streaming(connection.client)


class EofWindowStream(trio.abc.HalfCloseableStream):
    """A real SocketStream, with the moment inside ``send_eof`` made controllable.

    Like ``trio.SocketStream``, ``send_eof`` and ``send_all`` share a send-side conflict
    check, and ``send_eof`` holds it across a checkpoint. Here that checkpoint waits for
    ``release_eof``, so a test can start a send exactly inside the window and does not
    depend on scheduling luck.
    """

    def __init__(self, inner: trio.SocketStream) -> None:
        self.inner = inner
        self.socket = inner.socket
        self.in_eof = trio.Event()
        self.release_eof = trio.Event()
        self._sending = False

    def _claim(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is currently sending data")
        self._sending = True

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self._claim()
        try:
            await self.inner.send_all(data)
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        self._claim()
        try:
            self.in_eof.set()
            await self.release_eof.wait()
            await self.inner.send_eof()
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return bytes(await self.inner.receive_some(max_bytes))

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordingProtocol:
    """Stands in for Hypercorn's ProtocolWrapper in the unit tests of the TCPServer."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def handle(self, event: Event) -> None:
        self.events.append(event)


def _unit_server(server_class: type[Any], stream: trio.abc.Stream) -> Any:
    server = server_class(ASGIWrapper(app), Config(), WorkerContext(None), {}, stream)
    server.protocol = RecordingProtocol()
    return server


async def _send_during_eof(server_class: type[Any]) -> tuple[Any, trio.SocketStream]:
    """Start a close, then a frame write while the close is inside ``send_eof``."""
    server_socket, client_socket = trio.socket.socketpair()
    stream = EofWindowStream(trio.SocketStream(server_socket))
    server = _unit_server(server_class, stream)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.protocol_send, Closed())
            await stream.in_eof.wait()
            nursery.start_soon(server.protocol_send, RawData(data=b"late frame"))
            await trio.testing.wait_all_tasks_blocked()
            stream.release_eof.set()
    except BaseException:
        server_socket.close()  # upstream's _close skips aclose() when cancelled
        client_socket.close()
        raise
    return server, trio.SocketStream(client_socket)


async def test_send_during_close_is_serialised(fixed: None) -> None:
    server_class = hypercorn.trio.run.TCPServer
    server, client = await _send_during_eof(server_class)
    # The write waited for the close and then found the stream closed.
    assert server.protocol.events == [Closed(), Closed()]
    assert await client.receive_some() == b""  # EOF, and no stray bytes after it
    await client.aclose()


async def test_close_does_not_wait_forever_for_a_stuck_send(
    fixed: None, autojump_clock: trio.testing.MockClock
) -> None:
    """A peer that stops reading blocks the (shielded) write; close must still finish.

    Upstream never waits for the send lock when closing, so this only guards the fix
    against deadlock; it passes without the fix too.
    """
    server_socket, client_socket = trio.socket.socketpair()
    server = _unit_server(hypercorn.trio.run.TCPServer, trio.SocketStream(server_socket))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.protocol_send, RawData(data=b"x" * 2**24))
        await trio.testing.wait_all_tasks_blocked()
        assert server.send_lock.locked()  # the write is stuck: nobody reads client_socket
        with trio.fail_after(3600):
            await server.protocol_send(Closed())
    # The close gave up on the lock, closed the stream, and that ended the stuck write.
    assert server.protocol.events == [Closed(), Closed()]
    client_socket.close()


# --- bug (b): DATA for a stream the server has finished ----------------------------------


async def test_data_for_a_finished_stream_is_ignored(
    fixed: None, autojump_clock: trio.testing.MockClock
) -> None:
    async with serve_connection() as connection:
        client = connection.client
        refused = await data_after_early_response(connection)
        # The rest of that request: trailers (StreamEnded), plus a WINDOW_UPDATE and a
        # PRIORITY for the finished stream.
        client.h2.increment_flow_control_window(1024, stream_id=refused)
        client.h2.prioritize(refused, weight=32)
        client.h2.send_headers(refused, [(b"x-checksum", b"0")], end_stream=True)
        await client.flush()
        # The connection still works. The upload below needs the connection window back,
        # so it also checks that the ignored DATA was acknowledged.
        echo = await client.request(b"POST", b"/echo", end_stream=False)
        await client.send_body(echo, b"e" * 1000, end_stream=True)
        await client.receive_until(lambda: echo in client.ended)
        assert (client.status[echo], bytes(client.bodies[echo])) == (200, b"1000")
        plain = await client.request(b"GET", b"/")
        await client.receive_until(lambda: plain in client.ended)
        assert client.status[plain] == 200


async def test_install_fixes_hypercorn_trio_serve(fixed: None) -> None:
    """End to end over TCP on 127.0.0.1, through ``hypercorn.trio.serve`` itself."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    shutdown = trio.Event()
    with trio.fail_after(60):  # a hang fails the test instead of blocking the run
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                partial(hypercorn.trio.serve, app, config, shutdown_trigger=shutdown.wait)
            )
            port = int(binds[0].rsplit(":", 1)[1])
            client = H2Client(await trio.open_tcp_stream("127.0.0.1", port))
            try:
                await client.start()
                refused = await client.request(b"POST", b"/early", end_stream=False)
                await client.receive_until(lambda: refused in client.ended)
                await trio.testing.wait_all_tasks_blocked()
                await client.send_body(refused, b"u" * 65535, end_stream=True)
                echo = await client.request(b"POST", b"/echo", end_stream=False)
                await client.send_body(echo, b"e" * 10, end_stream=True)
                await client.receive_until(lambda: echo in client.ended)
            except ConnectionError:
                # Most likely the worker died: give its error the chance to cancel us and
                # surface from the nursery; otherwise report the lost connection.
                with trio.move_on_after(10):
                    await trio.sleep_forever()
                raise
            assert bytes(client.bodies[echo]) == b"10"
            await client.stream.aclose()
            shutdown.set()


# --- related hang: app tasks blocked on backpressure when the connection closes ----------


async def test_close_releases_apps_waiting_on_backpressure(
    fixed: None, autojump_clock: trio.testing.MockClock
) -> None:
    async with serve_connection() as connection:
        client = connection.client
        big = await client.request(b"GET", b"/big")
        await client.receive_until(lambda: big in client.status)
        await trio.testing.wait_all_tasks_blocked()  # the app now waits for flow control
    # serve_connection has closed the client and checked that the server finished.


# --- upstream canaries: these assert that Hypercorn's own classes still crash ------------
# If one fails after a Hypercorn upgrade, upstream fixed that bug: drop that part of the fix.


async def test_upstream_tcp_server_crashes_on_send_during_close(upstream: None) -> None:
    with pytest.RaisesGroup(trio.BusyResourceError):
        await _send_during_eof(ORIGINAL_TCP_SERVER)


async def test_upstream_tcp_server_crashes_on_goaway_while_streaming(
    upstream: None, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    # The fixed H2Protocol keeps the hang below out of this race.
    monkeypatch.setattr(hypercorn.protocol, "H2Protocol", FixedH2Protocol)
    crashes: list[BaseException] = []
    for _ in range(RACE_ATTEMPTS):
        async with serve_connection(ORIGINAL_TCP_SERVER, expect_crash=True) as connection:
            await goaway_while_streaming(connection.client)
        crashes.extend(_exceptions(connection.error))
        if crashes:
            break
    assert crashes, "Hypercorn's TCPServer survived: bug (a) looks fixed upstream"
    assert all(isinstance(crash, trio.BusyResourceError) for crash in crashes), crashes


async def test_upstream_h2_protocol_crashes_on_data_for_a_finished_stream(
    upstream: None, autojump_clock: trio.testing.MockClock
) -> None:
    async with serve_connection(expect_crash=True) as connection:
        try:
            await data_after_early_response(connection)
            await connection.client.drain()
        except ConnectionError:
            pass
    crashes = _exceptions(connection.error)
    assert crashes, "Hypercorn's H2Protocol survived: bug (b) looks fixed upstream"
    assert all(isinstance(crash, KeyError) for crash in crashes), crashes


async def test_upstream_h2_protocol_hangs_apps_waiting_on_backpressure(
    upstream: None, monkeypatch: pytest.MonkeyPatch, autojump_clock: trio.testing.MockClock
) -> None:
    monkeypatch.setattr(hypercorn.protocol, "H2Protocol", ORIGINAL_H2_PROTOCOL)
    async with serve_connection(FixedTCPServer, finish_within=None) as connection:
        client = connection.client
        big = await client.request(b"GET", b"/big")
        await client.receive_until(lambda: big in client.status)
        await trio.testing.wait_all_tasks_blocked()
        await client.stream.aclose()
        with trio.move_on_after(24 * 3600):
            await connection.finished.wait()
        assert not connection.finished.is_set(), (
            "Hypercorn's H2Protocol released the app: the hang looks fixed upstream"
        )
