"""Fixes for two crashes and a related hang in Hypercorn 0.18.x's trio worker.

The two crashes let an exception escape a connection's task. Hypercorn's trio worker runs
every connection in one nursery, so one bad connection takes the whole worker (all its
connections, and the server) down.

1. Send/close race on a connection (seen with cleartext HTTP/2 under load).
   ``TCPServer.protocol_send`` writes with ``stream.send_all`` while holding ``send_lock``,
   but ``TCPServer._close`` calls ``stream.send_eof`` without it. ``_close`` is reached
   from inside the protocol, for instance when a client sends GOAWAY (or an invalid frame)
   while other streams are still answering. ``trio.SocketStream.send_eof`` holds the
   stream's send-side conflict detector across a checkpoint. A ``send_all`` that starts in
   that window raises ``trio.BusyResourceError``. ``protocol_send`` only catches
   ``BrokenResourceError``/``ClosedResourceError``, so the error escapes. In the other
   direction (``send_eof`` while a ``send_all`` is in flight), ``_close`` swallows the
   error. The EOF is then lost, and because the ``send_eof`` checkpoint is not shielded, a
   cancellation there skips ``aclose`` and leaks the socket.
   Fix: ``_close`` takes ``send_lock`` before ``send_eof``, so sends and EOF never
   overlap. The wait for the lock is bounded (``close_lock_timeout``) because the holder
   may be stuck writing to a peer that stopped reading. Everything is shielded and always
   ends in ``aclose()``, which also wakes such a stuck writer.
   ``protocol_send`` treats ``BusyResourceError`` like a broken connection. It tells the
   protocol about the close after releasing the lock, so ``_close`` never waits on a lock
   its own task holds.

2. Frames for a stream that the server has already finished (``hypercorn/protocol/h2.py``).
   When the application answers before reading the whole request body (an early 413 or
   503, say), the finished stream leaves ``H2Protocol.streams``. The client may still send
   DATA frames for it, which is legal: the stream is only half-closed. ``_handle_events``
   indexes ``self.streams[event.stream_id]`` for ``DataReceived`` without a guard, so this
   raises ``KeyError``. The other per-stream events are already guarded upstream:
   StreamEnded (try/except), StreamReset (membership test), WindowUpdated (membership
   test), and trailers (ignored).
   Fix: DATA for an unknown stream is dropped. Its flow-controlled length is still
   acknowledged, or the connection-level window would shrink until every stream on the
   connection stalls. Every other event goes to the upstream handler unchanged.

3. A related hang, not a crash. When an HTTP/2 connection closes,
   ``H2Protocol`` stops its sending task but leaves the per-stream send buffers as they
   are. An application task blocked on backpressure (``StreamBuffer.push`` above the high
   water mark, or the drain at the end of a body) then waits forever. The connection's task
   never finishes, and the application keeps whatever it holds, such as a database
   session. This happens whenever a client goes away in the middle of a large response.
   Fix: on ``Closed``, also close every stream buffer. Blocked senders wake up, and their
   later sends are dropped the way upstream already drops sends on a closed buffer.

``install()`` also makes connections use ``h11_writes.CoalescingH11Protocol`` for HTTP/1.1
and ``h2_writes.CoalescingH2Protocol`` (a ``FixedH2Protocol``, so with fixes 2 and 3) for
HTTP/2. These are not fixes: they write each response of known length in one piece. Nor is
``FixedTCPServer``'s keep-alive timeout (``idle_timeout.IdleTimeout``): the same behaviour
as Hypercorn's, without a task started and cancelled for every request.

``install()`` rebinds the names Hypercorn looks up when it creates these objects:
``hypercorn.trio.run.TCPServer`` (read once, when ``worker_serve`` starts, so call
``install()`` before serving) and ``hypercorn.protocol.H2Protocol`` and ``H11Protocol`` (read
by ``ProtocolWrapper`` for each connection). The defining modules are left alone, and
the originals stay available as ``ORIGINAL_TCP_SERVER`` and ``ORIGINAL_H2_PROTOCOL``.
``install()`` applies only to Hypercorn 0.18.x. For any other version it logs a warning
and changes nothing: check there whether the bugs still exist
(``tests/serving/test_hypercorn_fixes.py`` has tests that show the upstream crashes).
"""

from __future__ import annotations

import contextlib
import logging
from importlib import metadata
from typing import Any

import h2.events
import hypercorn.protocol
import hypercorn.protocol.h2
import hypercorn.trio.run
import hypercorn.trio.tcp_server
import trio
from hypercorn.events import Closed, Event, RawData
from hypercorn.protocol.events import Body

from .h11_writes import ORIGINAL_H11_PROTOCOL, CoalescingH11Protocol
from .idle_timeout import IdleTimeout

__all__ = [
    "ORIGINAL_H2_PROTOCOL",
    "ORIGINAL_TCP_SERVER",
    "SUPPORTED_SERIES",
    "FixedH2Protocol",
    "FixedTCPServer",
    "install",
    "installed",
    "uninstall",
]

logger = logging.getLogger(__name__)

SUPPORTED_SERIES = (0, 18)
"""The ``(major, minor)`` Hypercorn series these fixes were written and tested against."""

ORIGINAL_TCP_SERVER = hypercorn.trio.tcp_server.TCPServer
ORIGINAL_H2_PROTOCOL = hypercorn.protocol.h2.H2Protocol

_SEND_FAILURES = (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError)


class FixedTCPServer(ORIGINAL_TCP_SERVER):
    """Hypercorn's trio ``TCPServer`` with sends and EOF/close serialised under ``send_lock``,
    and its keep-alive timeout kept by ``idle_timeout.IdleTimeout``."""

    close_lock_timeout: float = 5.0
    """Seconds ``_close`` waits for a send in flight before closing without sending EOF."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keep_alive = IdleTimeout(
            self.config.keep_alive_timeout,
            self.context.terminated.wait,
            self._initiate_server_close,
        )
        self.idle_task = self.keep_alive  # type: ignore[assignment]  # the same interface

    async def _read_data(self) -> None:
        try:
            await super()._read_data()
        finally:
            # The connection is closed: its keep-alive task must not keep its task group open.
            self.keep_alive.finish()

    async def protocol_send(self, event: Event) -> None:
        if not isinstance(event, RawData):
            await super().protocol_send(event)
            return
        async with self.send_lock:
            try:
                # Shielded: a frame cut halfway would corrupt the connection for every stream.
                with trio.CancelScope(shield=True):
                    await self.stream.send_all(event.data)
            except _SEND_FAILURES:
                failed = True
            else:
                failed = False
        if failed:
            await self.protocol.handle(Closed())

    async def _close(self) -> None:
        with trio.CancelScope(shield=True):
            try:
                if self.send_lock.statistics().owner is trio.lowlevel.current_task():
                    await self._send_eof()
                else:
                    with trio.move_on_after(self.close_lock_timeout):
                        async with self.send_lock:
                            await self._send_eof()
            finally:
                await self.stream.aclose()

    async def _send_eof(self) -> None:
        stream: trio.abc.Stream = self.stream
        if not isinstance(stream, trio.abc.HalfCloseableStream):
            return  # TLS: there is no half-close; aclose() is all there is.
        with contextlib.suppress(*_SEND_FAILURES):  # The peer is gone or the stream closed.
            await stream.send_eof()


class FixedH2Protocol(ORIGINAL_H2_PROTOCOL):
    """Hypercorn's ``H2Protocol``: ignores DATA for finished streams, unblocks on close."""

    async def handle(self, event: Event) -> None:
        await super().handle(event)
        if isinstance(event, Closed):
            # Nothing drains these buffers any more; wake whoever waits on them.
            for buffer in list(self.stream_buffers.values()):
                await buffer.close()

    async def _handle_events(self, events: list[h2.events.Event]) -> None:
        # DATA is handled here, one frame at a time, because whether its stream still
        # exists can change during any await. Runs of other events go upstream as they are.
        # Upstream flushes once per call, and the final call (possibly with an empty list)
        # does the flush for this batch.
        pending: list[h2.events.Event] = []
        for event in events:
            if isinstance(event, h2.events.DataReceived):
                if pending:
                    await super()._handle_events(pending)
                    pending = []
                await self._handle_data(event)
            else:
                pending.append(event)
        await super()._handle_events(pending)

    async def _handle_data(self, event: h2.events.DataReceived) -> None:
        stream_id = event.stream_id
        if stream_id is None:  # h2 always sets it on DataReceived; this is for the type.
            return
        stream = self.streams.get(stream_id)
        if stream is not None:
            await stream.handle(Body(stream_id=stream_id, data=event.data or b""))
        # Acknowledge either way: unacknowledged bytes would drain the connection window.
        self.connection.acknowledge_received_data(event.flow_controlled_length or 0, stream_id)


def _series(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def _h2_protocol() -> type[FixedH2Protocol]:
    # Imported here, not at the top: h2_writes builds on FixedH2Protocol, defined above.
    from .h2_writes import CoalescingH2Protocol

    return CoalescingH2Protocol


def installed() -> bool:
    """Whether Hypercorn currently uses the fixed classes."""
    return (
        hypercorn.trio.run.TCPServer is FixedTCPServer
        and hypercorn.protocol.H2Protocol is _h2_protocol()
        and hypercorn.protocol.H11Protocol is CoalescingH11Protocol
    )


def install() -> None:
    """Make Hypercorn's trio worker use the fixed classes (idempotent).

    Call this before ``worker_serve``/``serve`` starts. Does nothing (with a warning) when
    the installed Hypercorn is not a 0.18.x release.
    """
    if installed():
        return
    try:
        version = metadata.version("hypercorn")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if _series(version) != SUPPORTED_SERIES:
        logger.warning(
            "Hypercorn %s is not %d.%d.x: not applying the trio worker fixes in %s; "
            "check whether they are still needed",
            version,
            *SUPPORTED_SERIES,
            __name__,
        )
        return
    hypercorn.trio.run.TCPServer = FixedTCPServer  # type: ignore[misc]
    hypercorn.protocol.H2Protocol = _h2_protocol()  # type: ignore[misc]
    hypercorn.protocol.H11Protocol = CoalescingH11Protocol  # type: ignore[misc]
    logger.debug("Hypercorn %s: trio worker fixes installed", version)


def uninstall() -> None:
    """Restore Hypercorn's own classes (for tests)."""
    hypercorn.trio.run.TCPServer = ORIGINAL_TCP_SERVER  # type: ignore[misc]
    hypercorn.protocol.H2Protocol = ORIGINAL_H2_PROTOCOL  # type: ignore[misc]
    hypercorn.protocol.H11Protocol = ORIGINAL_H11_PROTOCOL  # type: ignore[misc]
