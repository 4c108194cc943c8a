"""One socket write per HTTP/2 response of known length, instead of three.

Hypercorn's ``H2Protocol`` writes a response in three steps: the HEADERS frame is written
as soon as the app sends ``http.response.start``; the body goes into the stream's send
buffer, and a separate send task wakes up to write it as DATA frames; the end of the
message wakes the send task once more to write an empty DATA frame with END_STREAM. Each
write takes the connection's send lock, a shielded cancel scope and a ``send`` system call,
and each trip through the send task costs a task switch. For small JSON responses this is
why HTTP/2 served fewer requests per second than HTTP/1.1.

``CoalescingH2Protocol`` holds back the HEADERS of a response that declares its
``Content-Length`` (left serialised in the h2 connection's outgoing buffer, not yet
written) and keeps the body chunks until the body is complete. It then writes HEADERS and
DATA frames (END_STREAM on the last) in one piece, from the app's task, without the send
task, as long as the body fits in the stream's and the connection's flow-control windows;
it cuts the body into frames of the peer's maximum frame size. A response is held only
while what the app sends adds up to at most its declared length, so nothing waits on the
app: once the declared length is there, the end of the message follows at once.

Everything else takes Hypercorn's own path, unchanged: a response without a length (a
stream), an informational response, trailers, websockets, server push, a body that does
not fit the windows (the client's flow control decides when it goes out), and whatever the
app sends when the response cannot be finished in one piece. The held HEADERS (and any held
body) go out first, in order: releasing a held response writes what is held, then hands
the next event to the upstream path. Any other flush on the connection (another stream's
frames, a WINDOW_UPDATE) also writes the held HEADERS, which is harmless. When the client
resets the stream or the connection closes while a response is held, what is held is
dropped, as Hypercorn drops a buffered body in these cases.

Measured on a bare ASGI app under Hypercorn's trio worker (h2load, small POST, 482-byte
JSON answer; the lowest of five interleaved runs), server CPU per request, h2c: 1.00 ->
0.70 ms with one stream at a time, 0.78 -> 0.55 ms with 16 streams on one connection; over
TLS 1.25 -> 0.74 and 1.01 -> 0.62 ms. HTTP/1.1 on the same app: 0.73 and 0.58 ms. On the
whole server (benchmarks/run.py, flow-run lifecycles, medians of three interleaved runs),
16 clients: h2 over TLS 39.6 -> 48.7, h2c 37.3 -> 47.2 lifecycles/s; one client: no change
that stands out of the noise.

Hypercorn's h2 connection also normalises and validates every outbound header block
(``H2Configuration`` defaults). Skipping that for headers known to pass saves about 11 us
of h2's ~50 us per HEADERS frame, but made no difference that showed in whole requests, so
h2's configuration is left as Hypercorn sets it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import h2.exceptions
import trio
from hypercorn.events import Closed, Event
from hypercorn.protocol.events import Body, EndBody, Response
from hypercorn.protocol.events import Event as StreamEvent
from hypercorn.protocol.http_stream import HTTPStream
from priority.priority import MissingStreamError

from .hypercorn_fixes import FixedH2Protocol

__all__ = ["CoalescingH2Protocol"]


def _declared_length(response: Response) -> int | None:
    for name, value in response.headers:
        if name.lower() == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
            return length if length >= 0 else None
    return None


@dataclass
class _Held:
    length: int
    body: bytearray = field(default_factory=bytearray)


class CoalescingH2Protocol(FixedH2Protocol):
    """``FixedH2Protocol``, writing a sized response's HEADERS and DATA in one piece."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: dict[int, _Held] = {}

    async def handle(self, event: Event) -> None:
        await super().handle(event)
        if isinstance(event, Closed):
            self._held.clear()  # Nothing can be written any more.

    async def stream_send(self, event: StreamEvent) -> None:
        stream_id = event.stream_id
        held = self._held.get(stream_id)
        if held is None:
            if isinstance(event, Response) and await self._hold(event):
                return
            await super().stream_send(event)
        elif self.closed:
            del self._held[stream_id]
            await super().stream_send(event)
        elif isinstance(event, Body):
            held.body += event.data
            if len(held.body) < held.length:
                await self._release(stream_id)  # More is coming: don't wait for it.
        elif isinstance(event, EndBody):
            await self._finish(stream_id)
        else:
            await self._release(stream_id)
            await super().stream_send(event)

    def _holdable(self, event: Response) -> int | None:
        """The declared length of a response that may be held, else ``None``."""
        if self.closed or event.status_code < 200 or event.stream_id % 2 == 0:
            return None  # The connection is gone, 1xx, or a pushed stream.
        stream = self.streams.get(event.stream_id)
        if not isinstance(stream, HTTPStream):
            return None  # A websocket.
        # Unset for Hypercorn's own error responses, which have no trailers.
        started = getattr(stream, "response", None) or {}
        if started.get("trailers", False):
            return None
        return _declared_length(event)

    async def _hold(self, event: Response) -> bool:
        """Serialise the HEADERS without writing them; ``False`` if upstream should send."""
        length = self._holdable(event)
        if length is None:
            return False
        headers = [(b":status", b"%d" % event.status_code), *event.headers]
        headers += self.config.response_headers("h2")
        try:
            self.connection.send_headers(event.stream_id, headers)
        except h2.exceptions.ProtocolError:
            return True  # As upstream: the stream is gone, nothing is written.
        self._held[event.stream_id] = _Held(length)
        return True

    def _fits(self, stream_id: int, size: int) -> bool:
        try:
            return size <= self.connection.local_flow_control_window(stream_id)
        except h2.exceptions.ProtocolError:
            return False

    def _send_frames(self, stream_id: int, data: bytes, *, end_stream: bool) -> None:
        """Serialise ``data`` as DATA frames; the caller checked the flow-control window."""
        frame = self.connection.max_outbound_frame_size
        view = memoryview(data)
        while len(view) > frame:
            self.connection.send_data(stream_id, view[:frame])
            view = view[frame:]
        self.connection.send_data(stream_id, view, end_stream=end_stream)

    async def _finish(self, stream_id: int) -> None:
        """The whole response, in one write; or Hypercorn's path if it does not fit."""
        held = self._held.pop(stream_id)
        body = bytes(held.body)
        if not self._fits(stream_id, len(body)):
            await self._write(stream_id, body)
            await super().stream_send(EndBody(stream_id=stream_id))
            return
        with contextlib.suppress(h2.exceptions.ProtocolError):
            # Raised when the client reset the stream: the body is dropped, as upstream.
            self._send_frames(stream_id, body, end_stream=True)
        # Done with this stream, as the send task is once it has sent the end of a stream.
        self.stream_buffers.pop(stream_id, None)
        with contextlib.suppress(MissingStreamError):
            self.priority.remove_stream(stream_id)
        await self._flush_shielded()

    async def _release(self, stream_id: int) -> None:
        """Write what is held for ``stream_id`` and stop holding it."""
        held = self._held.pop(stream_id)
        await self._write(stream_id, bytes(held.body))

    async def _write(self, stream_id: int, body: bytes) -> None:
        """Write the held HEADERS and ``body``, directly if it fits, else via the send task."""
        if body and self._fits(stream_id, len(body)):
            with contextlib.suppress(h2.exceptions.ProtocolError):  # a reset stream
                self._send_frames(stream_id, body, end_stream=False)
            body = b""
        await self._flush_shielded()
        if body:
            await super().stream_send(Body(stream_id=stream_id, data=body))

    async def _flush_shielded(self) -> None:
        """``_flush``, which the app's cancellation must not cut short.

        Upstream writes bodies from the send task; here the app's task writes, and it may be
        cancelled while it waits for the send lock. By then h2 has handed over the bytes, and
        a frame that never goes out would leave the response unfinished and the client's
        header compression state out of step with ours. The wait is bounded: a stuck write
        ends when the connection closes.
        """
        with trio.CancelScope(shield=True):
            await self._flush()
