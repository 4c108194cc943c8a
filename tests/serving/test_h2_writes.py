"""``CoalescingH2Protocol``: one write per sized HTTP/2 response, everything else as before.

Each test serves an ASGI app on one end of a socketpair with the trio ``TCPServer`` that
Hypercorn uses once ``hypercorn_fixes`` is installed (over TLS with ALPN, or cleartext h2
with prior knowledge), records what the protocol writes, and talks HTTP/2 from the other
end with the ``h2`` library. The ``protocol`` fixture runs each test with our class and
with ``FixedH2Protocol`` (Hypercorn's path plus the fixes), which must behave the same
apart from the number of writes.
"""

from __future__ import annotations

import functools
import ssl
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import hypercorn.protocol
import pytest
import trio
import trio.testing
import trustme
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.trio.worker_context import WorkerContext

from hypercorn_protocols import RecordingTCPServer, fixes_installed
from prefect_trio_server.serving import hypercorn_fixes
from prefect_trio_server.serving.h2_writes import CoalescingH2Protocol
from prefect_trio_server.serving.hypercorn_fixes import FixedH2Protocol

App = Callable[[dict[str, Any], Any, Any], Any]

DEADLINE = 60.0
"""Seconds any one wait in these tests may take before the test fails.

The tests run on trio's autojump clock: this and Hypercorn's keep-alive timer (which keeps
an HTTP/2 connection's task alive for 5 s after the client has gone) pass in virtual time.
"""

DATA, HEADERS = 0x0, 0x1
END_STREAM = 0x1


@pytest.fixture(params=["coalescing", "upstream"])
def protocol(request: pytest.FixtureRequest) -> Iterator[str]:
    upstream = {"H2Protocol": FixedH2Protocol} if request.param == "upstream" else {}
    with fixes_installed(**upstream):
        yield str(request.param)


@pytest.fixture(params=["h2c", "tls"])
def tls(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "tls")


def test_install_uses_the_coalescing_protocol() -> None:
    was_installed = hypercorn_fixes.installed()
    hypercorn_fixes.install()
    try:
        assert hypercorn.protocol.H2Protocol is CoalescingH2Protocol
        assert hypercorn_fixes.installed()
    finally:
        if not was_installed:
            hypercorn_fixes.uninstall()
    if not was_installed:
        assert hypercorn.protocol.H2Protocol is hypercorn_fixes.ORIGINAL_H2_PROTOCOL


# --- serving one connection ---------------------------------------------------------------


def frames(write: bytes) -> Iterator[tuple[int, int, int]]:
    """``(type, flags, stream id)`` of each frame in one write (h2 writes whole frames)."""
    at = 0
    while at + 9 <= len(write):
        length = int.from_bytes(write[at : at + 3], "big")
        stream_id = int.from_bytes(write[at + 5 : at + 9], "big") & 0x7FFFFFFF
        yield write[at + 3], write[at + 4], stream_id
        at += 9 + length


def writes_for(server: RecordingTCPServer, stream_id: int) -> list[list[tuple[int, int]]]:
    """The writes carrying frames of ``stream_id``: each as its ``(type, flags)`` list."""
    found = []
    for write in server.writes:
        mine = [(kind, flags) for kind, flags, sid in frames(write) if sid == stream_id]
        if mine:
            found.append(mine)
    return found


@dataclass
class Client:
    """Just enough of an HTTP/2 client to watch frames arrive."""

    stream: trio.abc.Stream
    h2: h2.connection.H2Connection = field(
        default_factory=lambda: h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
    )
    headers: dict[int, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    bodies: defaultdict[int, bytearray] = field(default_factory=lambda: defaultdict(bytearray))
    trailers: dict[int, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)
    reset: set[int] = field(default_factory=set)
    eof: bool = False

    async def start(self, initial_window: int | None = None) -> None:
        self.h2.initiate_connection()
        if initial_window is not None:
            self.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window})
        await self.flush()

    async def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and not self.eof:
            await self.stream.send_all(data)

    async def request(
        self, path: str, *, method: bytes = b"GET", extra: list[tuple[bytes, bytes]] | None = None
    ) -> int:
        stream_id: int = self.h2.get_next_available_stream_id()
        headers = [
            (b":method", method),
            (b":path", path.encode()),
            (b":scheme", b"https"),
            (b":authority", b"localhost"),
            *(extra or []),
        ]
        self.h2.send_headers(stream_id, headers, end_stream=True)
        await self.flush()
        return stream_id

    async def receive(self) -> None:
        try:
            data = await self.stream.receive_some(2**16)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            self.eof = True
            return
        for event in self.h2.receive_data(data):
            stream_id = getattr(event, "stream_id", None)
            if isinstance(event, h2.events.ResponseReceived):
                assert stream_id is not None
                self.headers[stream_id] = list(event.headers or [])
            elif isinstance(event, h2.events.DataReceived):
                assert stream_id is not None
                self.bodies[stream_id] += event.data or b""
                self.h2.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                assert stream_id is not None
                self.trailers[stream_id] = list(event.headers or [])
            elif isinstance(event, h2.events.StreamEnded):
                assert stream_id is not None
                self.ended.add(stream_id)
            elif isinstance(event, h2.events.StreamReset):
                assert stream_id is not None
                self.reset.add(stream_id)
        await self.flush()

    async def receive_until(self, done: Callable[[], bool]) -> None:
        with trio.fail_after(DEADLINE):
            while not done():
                if self.eof:
                    raise ConnectionError("the server closed the connection")
                await self.receive()

    async def get(self, path: str, **kwargs: Any) -> tuple[int, bytes]:
        stream_id = await self.request(path, **kwargs)
        await self.receive_until(lambda: stream_id in self.ended)
        return stream_id, bytes(self.bodies[stream_id])

    def status(self, stream_id: int) -> int:
        return int(dict(self.headers[stream_id])[b":status"])

    def header(self, stream_id: int, name: bytes) -> bytes | None:
        return dict(self.headers[stream_id]).get(name)


@functools.cache
def _tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    server_context.set_alpn_protocols(["h2", "http/1.1"])
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    client_context.set_alpn_protocols(["h2"])
    return server_context, client_context


@dataclass
class Served:
    server: RecordingTCPServer
    client: Client
    finished: trio.Event
    error: list[BaseException]


@asynccontextmanager
async def serving(
    app: App, *, tls: bool, initial_window: int | None = None
) -> AsyncIterator[Served]:
    """Serve ``app`` on one connection; on exit the client closes and the server must end."""
    server_socket, client_socket = trio.socket.socketpair()
    server_stream: trio.abc.Stream = trio.SocketStream(server_socket)
    client_stream: trio.abc.Stream = trio.SocketStream(client_socket)
    if tls:
        server_context, client_context = _tls_contexts()
        server_stream = trio.SSLStream(server_stream, server_context, server_side=True)
        client_stream = trio.SSLStream(client_stream, client_context, server_hostname="localhost")
    server = RecordingTCPServer(ASGIWrapper(app), Config(), WorkerContext(None), {}, server_stream)
    server.writes = []
    served = Served(server, Client(client_stream), trio.Event(), [])

    async def run() -> None:
        try:
            await server.run()
        except BaseException as exc:  # kept for the test: the server must not crash
            served.error.append(exc)
            raise
        finally:
            served.finished.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        try:
            await served.client.start(initial_window)
            yield served
        finally:
            await served.client.stream.aclose()
            with trio.move_on_after(DEADLINE):
                await served.finished.wait()
            finished = served.finished.is_set()
            nursery.cancel_scope.cancel()
    assert not served.error
    assert finished, "the server did not finish after the client closed"


# --- apps --------------------------------------------------------------------------------


def body_for(path: str) -> bytes:
    """``/sized/<n>``: n bytes that depend on the path; anything else: the path, thrice."""
    if path.startswith("/sized/"):
        size = int(path.rsplit("/", 1)[1])
        pattern = path.encode() + b"|"
        return (pattern * (size // len(pattern) + 1))[:size]
    return path.encode() * 3


async def sized(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = body_for(scope["path"])
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def assert_one_write_each(
    served: Served, stream_ids: list[int], protocol: str, *, frames_per_body: int = 1
) -> None:
    for stream_id in stream_ids:
        written = writes_for(served.server, stream_id)
        if protocol == "coalescing":
            # HEADERS, then DATA frames, END_STREAM on the last: all in one write.
            assert len(written) == 1, written
            kinds = [kind for kind, _ in written[0]]
            assert kinds == [HEADERS] + [DATA] * frames_per_body
            assert written[0][-1][1] & END_STREAM
        else:  # Hypercorn's path: HEADERS, (DATA,) END_STREAM, each in a write of its own
            assert len(written) >= 2, written


# --- tests -------------------------------------------------------------------------------


async def test_a_sized_response_arrives_in_one_write(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    async with serving(sized, tls=tls) as served:
        client = served.client
        first, body = await client.get("/abc")
        assert (client.status(first), body) == (200, b"/abc/abc/abc")
        assert client.header(first, b"content-length") == b"12"
        assert client.header(first, b"content-type") == b"text/plain"
        # The next request on the connection, after the first one has finished.
        second, body = await client.get("/sized/1000")
        assert body == body_for("/sized/1000")
        assert_one_write_each(served, [first, second], protocol)


async def test_an_empty_sized_response_is_one_write(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    async def empty(scope: dict[str, Any], receive: Any, send: Any) -> None:
        status = 204 if scope["method"] == "GET" else 200
        headers = [(b"content-length", b"0" if status == 204 else b"5")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if status == 204 else b"12345"})

    async with serving(empty, tls=tls) as served:
        client = served.client
        no_content, body = await client.get("/")
        assert (client.status(no_content), body) == (204, b"")
        head, body = await client.get("/", method=b"HEAD")  # the body is suppressed
        assert (client.status(head), body) == (200, b"")
        assert client.header(head, b"content-length") == b"5"
        assert_one_write_each(served, [no_content, head], protocol)


async def test_a_body_of_several_frames_within_the_window_is_one_write(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    async with serving(sized, tls=tls) as served:
        # 40000 bytes: three DATA frames of at most 16384 bytes, within the 65535 window.
        stream_id, body = await served.client.get("/sized/40000")
        assert body == body_for("/sized/40000")
        if protocol == "coalescing":
            assert_one_write_each(served, [stream_id], protocol, frames_per_body=3)


async def test_a_body_larger_than_the_flow_control_window_arrives_whole(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    async with serving(sized, tls=tls, initial_window=1000) as served:
        client = served.client  # its SETTINGS, with the small window, precede its requests
        stream_id, body = await client.get("/sized/50000")
        assert body == body_for("/sized/50000")
        assert client.header(stream_id, b"content-length") == b"50000"
        # A small one still fits, and goes in one write.
        small, body = await client.get("/sized/900")
        assert body == body_for("/sized/900")
        assert len(writes_for(served.server, stream_id)) > 1
        assert_one_write_each(served, [small], protocol)


async def test_many_concurrent_streams_get_their_own_bodies(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    paths = [f"/sized/{size}" for size in (0, 1, 100, 5000, 16384, 16385, 30000)] * 6
    paths += [f"/p{number}" for number in range(30)]
    async with serving(sized, tls=tls) as served:
        client = served.client
        stream_ids = {await client.request(path): path for path in paths}
        await client.receive_until(lambda: all(sid in client.ended for sid in stream_ids))
        for stream_id, path in stream_ids.items():
            assert client.status(stream_id) == 200
            assert bytes(client.bodies[stream_id]) == body_for(path), path


async def test_a_streamed_response_sends_its_headers_before_the_body_exists(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    release = trio.Event()

    async def streaming(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain")]
        if scope["path"] == "/sized-in-parts":
            headers.append((b"content-length", b"9"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b"last"})

    async with serving(streaming, tls=tls) as served:
        client = served.client
        unsized = await client.request("/stream")
        in_parts = await client.request("/sized-in-parts")
        # Neither waits for the rest of its body: headers and the first part come now.
        await client.receive_until(
            lambda: all(client.bodies[sid] == b"first" for sid in (unsized, in_parts))
        )
        assert client.status(unsized) == client.status(in_parts) == 200
        assert not client.ended
        release.set()
        await client.receive_until(lambda: {unsized, in_parts} <= client.ended)
        assert client.bodies[unsized] == client.bodies[in_parts] == b"firstlast"


async def test_headers_for_h2_to_normalise_still_get_normalised(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    async def odd_headers(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [
            (b"X-Mixed-Case", b"kept"),
            (b"connection", b"keep-alive"),  # not allowed in HTTP/2: h2 drops it
            (b"content-length", b"2"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async with serving(odd_headers, tls=tls) as served:
        client = served.client
        stream_id, body = await client.get("/")  # the client's h2 rejects uppercase names
        assert body == b"ok"
        assert client.header(stream_id, b"x-mixed-case") == b"kept"
        assert client.header(stream_id, b"connection") is None


async def test_an_app_failing_before_its_response_gets_a_500(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async with serving(failing, tls=tls) as served:
        stream_id, body = await served.client.get("/")
        assert (served.client.status(stream_id), body) == (500, b"")


async def test_an_app_failing_after_its_headers_still_sends_them(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/next":
            await sized(scope, receive, send)
            return
        headers = [(b"content-length", b"10")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["path"] == "/after-body":
            await send({"type": "http.response.body", "body": b"0123456789", "more_body": True})
        raise RuntimeError("boom")

    async with serving(failing, tls=tls) as served:
        client = served.client
        after_headers = await client.request("/")
        after_body = await client.request("/after-body")
        # Whatever was held goes out, as Hypercorn sends it (without ending the stream).
        await client.receive_until(
            lambda: after_headers in client.headers and client.bodies[after_body] == b"0123456789"
        )
        assert client.status(after_headers) == client.status(after_body) == 200
        assert not {after_headers, after_body} & client.ended
        # The connection goes on serving.
        _, body = await client.get("/next")
        assert body == body_for("/next")


async def test_trailers_go_out_after_the_body(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool
) -> None:
    release = trio.Event()

    async def with_trailers(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"4"), (b"trailer", b"x-checksum")]
        start = {"type": "http.response.start", "status": 200, "headers": headers}
        await send({**start, "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await release.wait()  # the body is not held back until the trailers exist
        trailers = [(b"x-checksum", b"abc")]
        await send({"type": "http.response.trailers", "headers": trailers})

    async with serving(with_trailers, tls=tls) as served:
        client = served.client
        stream_id = await client.request("/", extra=[(b"te", b"trailers")])
        await client.receive_until(lambda: client.bodies[stream_id] == b"data")
        assert client.status(stream_id) == 200
        release.set()
        await client.receive_until(lambda: stream_id in client.ended)
        assert client.trailers[stream_id] == [(b"x-checksum", b"abc")]
        assert client.bodies[stream_id] == b"data"


@pytest.mark.parametrize("how", ["reset", "close"])
async def test_the_client_going_away_while_a_response_is_held(
    autojump_clock: trio.testing.MockClock, protocol: str, tls: bool, how: str
) -> None:
    release = trio.Event()
    finished: list[str] = []

    async def slow_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != "/slow":
            await sized(scope, receive, send)
            return
        headers = [(b"content-length", b"4")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await release.wait()
        await send({"type": "http.response.body", "body": b"late"})
        finished.append(scope["path"])

    async with serving(slow_body, tls=tls) as served:
        client = served.client
        held = await client.request("/slow")
        # The app has sent its headers and waits for the test.
        await trio.testing.wait_all_tasks_blocked()
        if how == "reset":
            client.h2.reset_stream(held)
            await client.flush()
            await trio.testing.wait_all_tasks_blocked()
            release.set()
            # The connection still serves, and the reset stream got no more than headers.
            _, body = await client.get("/after")
            assert body == body_for("/after")
            assert held not in client.ended
            assert not client.bodies[held]
        else:
            await client.stream.aclose()
            client.eof = True
            await trio.testing.wait_all_tasks_blocked()  # the server has seen the close
            release.set()
            # The app's last send returns instead of hanging, and the connection ends.
            with trio.fail_after(DEADLINE):
                await served.finished.wait()
        with trio.fail_after(DEADLINE):
            while not finished:
                await trio.testing.wait_all_tasks_blocked()
        assert finished == ["/slow"]


async def test_an_app_cancelled_while_its_response_waits_to_be_written(
    autojump_clock: trio.testing.MockClock, tls: bool
) -> None:
    """The app's task writes the response; cancelling it then must not lose frames."""
    was_installed = hypercorn_fixes.installed()
    hypercorn_fixes.install()
    cancelled: list[bool] = []

    async def impatient(scope: dict[str, Any], receive: Any, send: Any) -> None:
        with trio.move_on_after(1) as scope_:
            await sized(scope, receive, send)
        cancelled.append(scope_.cancelled_caught)

    try:
        async with serving(impatient, tls=tls) as served:
            client = served.client
            await client.get("/warm-up")  # the TLS handshake and settings are done
            async with served.server.send_lock:  # a long write on the connection
                stream_id = await client.request("/sized/3000")
                await trio.testing.wait_all_tasks_blocked()
                autojump_clock.jump(2)  # the app's deadline passes while it waits
                await trio.testing.wait_all_tasks_blocked()
            await client.receive_until(lambda: stream_id in client.ended)
            assert bytes(client.bodies[stream_id]) == body_for("/sized/3000")
            await trio.testing.wait_all_tasks_blocked()  # the app has returned
            assert cancelled == [False, True]
            # The connection's header compression is still in step: another response.
            _, body = await client.get("/after")
            assert body == body_for("/after")
    finally:
        if not was_installed:
            hypercorn_fixes.uninstall()
