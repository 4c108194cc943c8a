"""Event ingestion: ``POST /events`` and the ``/events/in`` websocket.

``/events/in`` (protocol notes 1.5, 2.a.3)
    A client offering the ``prefect`` subprotocol is accepted with it and must first send
    ``{"type": "auth", "token": ...}``, answered ``{"type": "auth_success"}``. When
    PREFECT_SERVER_API_AUTH_STRING is set the token must equal it (else close 1008), and a
    client without the subprotocol is closed with 1002 (accepted first, so that it sees the
    code and reason rather than a bare HTTP 403). Without an auth string, a legacy client (no
    subprotocol) sends events straight away.

    Then every text (or UTF-8 binary) frame is one event. A reader task parses frames as they
    come into a bounded buffer; a writer task takes whatever the buffer holds (up to
    ``WEBSOCKET_BATCH_SIZE`` events, never waiting for more) and stores it in one write
    transaction, so bursts cost few transactions and a slow database slows the reader (and so
    the client) instead of dropping events: a batch that finds the database busy (the writer
    taken past ``PREFECT_API_DATABASE_TIMEOUT``, or SQLite locked) is retried for up to
    ``STORE_PATIENCE`` seconds. Nothing is sent back.

    Close codes chosen: a frame that is not JSON closes with **1007** (invalid frame payload
    data); JSON that is not a valid event closes with **1003** (unsupported data); both after
    the events received before it are stored, with the reason in the close frame. Events that
    cannot be stored (the database is unavailable) close with **1011**, so the client
    reconnects and re-sends what it could not confirm. On server shutdown the handler stores
    what it already received and closes with **1001** (going away).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastapi import Response, WebSocket, status
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ..database import Database
from ..errors import ServiceUnavailableError
from ..models.events import record_events
from ..retryable import is_client_retryable_exception
from ..schemas.events import Event
from ..settings import Settings
from .dependencies import DatabaseDep, get_database_of
from .routing import DeferredRouter

__all__ = [
    "WEBSOCKET_AUTH_TIMEOUT",
    "WEBSOCKET_BATCH_SIZE",
    "WEBSOCKET_BUFFER_SIZE",
    "router",
    "store_events",
]

logger = logging.getLogger("prefect_trio_server.api.events")

router = DeferredRouter(prefix="/events", tags=["Events"])

WEBSOCKET_BATCH_SIZE = 500
"""At most this many events per write transaction."""
WEBSOCKET_BUFFER_SIZE = 1000
"""Events parsed but not yet stored, per connection, before the reader waits."""
WEBSOCKET_AUTH_TIMEOUT = 30.0
"""Seconds a ``prefect``-subprotocol client has to send its auth message."""
SHUTDOWN_FLUSH_TIMEOUT = 5.0
STORE_PATIENCE = 120.0
"""Seconds a websocket's batch waits out a busy or unavailable database (retrying) before
the connection is closed with 1011. Meanwhile the buffer fills and the reader stops reading,
which slows the client down."""

WS_1001_GOING_AWAY = 1001
WS_1002_PROTOCOL_ERROR = 1002
WS_1003_UNSUPPORTED_DATA = 1003
WS_1007_INVALID_FRAME_PAYLOAD_DATA = 1007
WS_1008_POLICY_VIOLATION = 1008
WS_1011_INTERNAL_ERROR = 1011


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def store_events(database: Database, events: list[Event]) -> None:
    """Store ``events`` (and record their task runs) in one write transaction."""
    if not events:
        return
    received = _utcnow()

    def work(connection: Any) -> None:
        record_events(connection, events, now=_utcnow(), received=received)

    await database.write(work)


def _worth_retrying(exc: Exception) -> bool:
    return isinstance(exc, ServiceUnavailableError) or is_client_retryable_exception(exc)


async def _store_patiently(database: Database, events: list[Event]) -> None:
    """:func:`store_events`, retried while the database is busy, up to ``STORE_PATIENCE``.

    A request that finds the database busy gets a 503 and its client retries; the events of
    a websocket have no one to retry them once the client has sent them, and a busy writer
    (many websockets queue for it) is no reason to drop them."""
    give_up = anyio.current_time() + STORE_PATIENCE
    pause = 0.05
    while True:
        try:
            await store_events(database, events)
            return
        except Exception as exc:
            if not _worth_retrying(exc) or anyio.current_time() + pause > give_up:
                raise
            logger.debug("database busy, %d events wait: %s", len(events), exc)
        await anyio.sleep(pause)
        pause = min(pause * 2, 1.0)


@router.post("", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def create_events(events: list[Event], database: DatabaseDep) -> Response:
    """Record a batch of Events."""
    await store_events(database, events)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- the websocket -------------------------------------------------------------------------


@dataclass
class _Close:
    code: int
    reason: str


def _offered_subprotocols(websocket: WebSocket) -> list[str]:
    offered = websocket.scope.get("subprotocols") or []
    return [str(protocol).strip() for protocol in offered]


async def _authenticate(websocket: WebSocket, auth_string: str | None) -> _Close | None:
    """Accept the connection and run the handshake; a close to send when it fails."""
    if "prefect" not in _offered_subprotocols(websocket):
        await websocket.accept()
        if auth_string:
            return _Close(
                WS_1002_PROTOCOL_ERROR, "'prefect' subprotocol required when auth is configured"
            )
        return None  # legacy client: events straight away

    await websocket.accept(subprotocol="prefect")
    message: dict[str, Any] | None = None
    with anyio.move_on_after(WEBSOCKET_AUTH_TIMEOUT):
        raw = await websocket.receive()
        if raw["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(raw.get("code", 1000))
        text = raw.get("text")
        if text is None and raw.get("bytes") is not None:
            text = raw["bytes"].decode("utf-8", errors="replace")
        try:
            decoded = json.loads(text or "")
        except ValueError:
            decoded = None
        message = decoded if isinstance(decoded, dict) else {}
    if message is None or message.get("type") != "auth":
        return _Close(WS_1008_POLICY_VIOLATION, "Expected 'auth' message")
    if auth_string:
        token = message.get("token")
        if not token or not isinstance(token, str):
            return _Close(WS_1008_POLICY_VIOLATION, "Auth required but no token provided")
        if not hmac.compare_digest(token.encode(), auth_string.encode()):
            return _Close(WS_1008_POLICY_VIOLATION, "Invalid token")
    await websocket.send_json({"type": "auth_success"})
    return None


def _parse_frame(message: Mapping[str, Any]) -> Event | _Close:
    text = message.get("text")
    if text is None:
        data = message.get("bytes") or b""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _Close(WS_1007_INVALID_FRAME_PAYLOAD_DATA, "event frames must be UTF-8 JSON")
    try:
        decoded = json.loads(text)
    except ValueError:
        return _Close(WS_1007_INVALID_FRAME_PAYLOAD_DATA, "an event frame is not valid JSON")
    try:
        return Event.model_validate(decoded)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "event"
        reason = f"invalid event: {where}: {first['msg']}"
        # A close reason must fit in a control frame (123 bytes of UTF-8).
        return _Close(WS_1003_UNSUPPORTED_DATA, reason.encode()[:120].decode(errors="ignore"))


async def _read_frames(websocket: WebSocket, send: MemoryObjectSendStream[Event]) -> _Close | None:
    """Parse frames into ``send`` until the client leaves (None) or sends garbage."""
    async with send:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            parsed = _parse_frame(message)
            if isinstance(parsed, _Close):
                return parsed
            await send.send(parsed)


async def _write_batches(database: Database, receive: MemoryObjectReceiveStream[Event]) -> None:
    """Store what ``receive`` holds, a batch at a time, until it is closed and empty."""
    async for first in receive:
        batch = [first]
        while len(batch) < WEBSOCKET_BATCH_SIZE:
            try:
                batch.append(receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
        await _store_patiently(database, batch)


async def _close(websocket: WebSocket, close: _Close) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    if websocket.client_state == WebSocketState.DISCONNECTED:
        return
    with suppress(RuntimeError, OSError, WebSocketDisconnect):  # the client is gone already
        await websocket.close(close.code, close.reason)


@router.websocket("/in")
async def stream_events_in(websocket: WebSocket) -> None:
    """Open a WebSocket to stream incoming Events."""
    settings = websocket.app.state.settings
    assert isinstance(settings, Settings)
    auth = settings.api_auth_string
    try:
        database = get_database_of(websocket.app)
    except Exception:
        await websocket.close(WS_1011_INTERNAL_ERROR, "the server is starting or stopping")
        return

    try:
        refused = await _authenticate(websocket, auth.get_secret_value() if auth else None)
    except WebSocketDisconnect:
        return
    if refused is not None:
        logger.warning("events websocket refused: %s", refused.reason)
        await _close(websocket, refused)
        return

    send, receive = anyio.create_memory_object_stream[Event](WEBSOCKET_BUFFER_SIZE)
    close: _Close | None = None
    try:
        async with anyio.create_task_group() as tasks:

            async def write() -> None:
                nonlocal close
                try:
                    await _write_batches(database, receive)
                except Exception:
                    logger.exception("could not store events from the websocket")
                    close = _Close(WS_1011_INTERNAL_ERROR, "could not store events; retry")
                    tasks.cancel_scope.cancel()

            tasks.start_soon(write)
            try:
                close = await _read_frames(websocket, send)
            except WebSocketDisconnect:
                close = None
    except anyio.get_cancelled_exc_class():
        # Server shutdown: store what was received already, then say goodbye.
        with anyio.CancelScope(shield=True), anyio.move_on_after(SHUTDOWN_FLUSH_TIMEOUT):
            await _flush_remaining(database, receive)
            await _close(websocket, _Close(WS_1001_GOING_AWAY, "server shutting down"))
        raise
    finally:
        receive.close()
    if close is not None:
        if close.code != WS_1011_INTERNAL_ERROR:
            logger.warning("events websocket closed: %s", close.reason)
        await _close(websocket, close)


async def _flush_remaining(database: Database, receive: MemoryObjectReceiveStream[Event]) -> None:
    batch: list[Event] = []
    while True:
        try:
            batch.append(receive.receive_nowait())
        except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
            break
    try:
        await _store_patiently(database, batch)
    except Exception:
        logger.exception("could not store %d events at shutdown", len(batch))
