"""Event ingest: N websocket clients stream events into ``/api/events/in``, none may be lost.

Each client opens ``/api/events/in`` offering the ``prefect`` subprotocol (sending
``{"type": "auth", "token": null}`` first when the server takes it, as Prefect's client
does), then sends one JSON event per text message until the time or its share of
``--max-events`` is up, and closes. Reports events per second (first connect to last close:
the close handshake waits until the server has read every frame), then checks that every
event was stored: it polls ``POST /api/events/filter`` (the event name and a per-run random
resource-id prefix, ``limit`` 1) until ``total`` equals the number sent, or
``--verify-seconds`` pass (Prefect persists events in batches, seconds later). A server
without ``/events/filter`` gets "unverified". Traffic goes to 127.0.0.1 only.

    python benchmarks/events.py --clients 16 --seconds 10               # starts our server
    python benchmarks/events.py --url http://127.0.0.1:4200/api ...     # any server

``benchmarks/run.py`` runs this as its ``events`` workload.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import ssl
import time
import uuid
from dataclasses import dataclass, field

import httpx
import trio
from _common import (
    REQUEST_TIMEOUT,
    Failures,
    http_client,
    require_loopback,
    running_server_for,
    verify_for,
)
from trio_websocket import WebSocketConnection, open_websocket_url

EVENT_NAME = "bench.event"
HANDSHAKE_TIMEOUT = 30.0
VERIFY_SECONDS = 60.0
POLL_INTERVAL = 0.25


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def event_message(prefix: str, client: int, number: int) -> str:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "occurred": now_iso(),
            "event": EVENT_NAME,
            "resource": {"prefect.resource.id": f"{prefix}{client}.{number}"},
            "payload": {},
            "related": [],
        }
    )


def websocket_url(api_url: str) -> str:
    return api_url.replace("http", "ws", 1) + "/events/in"


@dataclass
class Sent:
    events: int = 0
    failures: Failures = field(default_factory=Failures)


async def authenticate(websocket: WebSocketConnection) -> str | None:
    """Prefect's handshake on a ``prefect``-subprotocol socket; an error label or None."""
    if websocket.subprotocol != "prefect":
        return None  # a legacy socket: events straight away
    await websocket.send_message(json.dumps({"type": "auth", "token": None}))
    with trio.move_on_after(HANDSHAKE_TIMEOUT):
        reply = json.loads(await websocket.get_message())
        return None if reply.get("type") == "auth_success" else f"auth refused: {reply}"
    return "auth: no answer"


async def stream_events(
    url: str,
    ssl_context: ssl.SSLContext | None,
    prefix: str,
    client: int,
    quota: int,
    deadline: float,
    sent: Sent,
) -> None:
    """One client: connect, authenticate, send until ``deadline`` or ``quota``, close."""
    try:
        async with open_websocket_url(
            url,
            ssl_context,
            subprotocols=["prefect"],
            connect_timeout=HANDSHAKE_TIMEOUT,
            disconnect_timeout=REQUEST_TIMEOUT,
        ) as websocket:
            refused = await authenticate(websocket)
            if refused:
                sent.failures.add("websocket", refused)
                return
            for number in range(quota):
                if trio.current_time() >= deadline:
                    break
                await websocket.send_message(event_message(prefix, client, number))
                sent.events += 1
    except Exception as exc:  # a failed client is counted; the others carry on
        sent.failures.add("websocket", exc)


def event_filter(prefix: str, since: str, until: str) -> dict[str, object]:
    return {
        "filter": {
            "event": {"name": [EVENT_NAME]},
            "resource": {"id_prefix": [prefix]},
            "occurred": {"since": since, "until": until},
        },
        "limit": 1,
    }


async def stored_total(
    client: httpx.AsyncClient, body: dict[str, object]
) -> tuple[int | None, str | None]:
    """The ``total`` the server reports, or None with the reason it could not be read."""
    try:
        response = await client.post("/events/filter", json=body)
    except httpx.HTTPError as exc:
        return None, type(exc).__name__
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}"
    try:
        return int(response.json()["total"]), None
    except (ValueError, KeyError, TypeError):
        return None, "no total in the answer"


async def verify_stored(
    url: str,
    verify: ssl.SSLContext | bool,
    prefix: str,
    since: str,
    expected: int,
    seconds: float,
) -> dict[str, object]:
    """Poll /events/filter until ``expected`` events with ``prefix`` are stored."""
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    body = event_filter(prefix, since, until)
    started = time.perf_counter()
    total: int | None = None
    error: str | None = None
    async with http_client(url, 1, verify=verify) as client:
        with trio.move_on_after(seconds):
            while True:
                total, error = await stored_total(client, body)
                if error in ("HTTP 404", "HTTP 405") or (total is not None and total >= expected):
                    break
                await trio.sleep(POLL_INTERVAL)  # pacing of the poll, within the deadline
    verdict = "unverified" if total is None else ("ok" if total == expected else "LOST")
    if total is not None and total > expected:
        verdict = "EXTRA"
    return {
        "verified": verdict,
        "stored": total,
        "verify_error": error,
        "stored_after_seconds": round(time.perf_counter() - started, 2),
    }


async def run_events(
    url: str,
    clients: int,
    seconds: float,
    *,
    max_events: int = 50_000,
    verify: ssl.SSLContext | bool = True,
    verify_seconds: float = VERIFY_SECONDS,
) -> dict[str, object]:
    """``clients`` websockets sending events for ``seconds``, then the stored count checked."""
    require_loopback(url)
    prefix = f"bench.{secrets.token_hex(6)}."
    ssl_context = verify if isinstance(verify, ssl.SSLContext) else None
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    sent = Sent()
    quota = max(1, max_events // clients)
    started = time.perf_counter()
    deadline = trio.current_time() + seconds
    with trio.move_on_after(seconds + HANDSHAKE_TIMEOUT + REQUEST_TIMEOUT) as scope:
        async with trio.open_nursery() as nursery:
            for client in range(clients):
                nursery.start_soon(
                    stream_events,
                    websocket_url(url),
                    ssl_context,
                    prefix,
                    client,
                    quota,
                    deadline,
                    sent,
                )
    elapsed = time.perf_counter() - started
    stored = await verify_stored(url, verify, prefix, since, sent.events, verify_seconds)
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "events_sent": sent.events,
        "events_per_second": round(sent.events / elapsed, 2),
        "failed": sent.failures.total(),
        **sent.failures.as_dict(),
        "resource_prefix": prefix,
        "cut_at_time_limit": scope.cancelled_caught,
        **stored,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="API URL of a running server (default: start ours)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--max-events", type=int, default=50_000, help="in all, all clients")
    parser.add_argument("--verify-seconds", type=float, default=VERIFY_SECONDS)
    parser.add_argument("--cafile", help="CA bundle for an https URL")
    args = parser.parse_args()

    def run(url: str, verify: ssl.SSLContext | bool) -> dict[str, object]:
        return trio.run(
            lambda: run_events(
                url,
                args.clients,
                args.seconds,
                max_events=args.max_events,
                verify=verify,
                verify_seconds=args.verify_seconds,
            )
        )

    if args.url:
        result = run(args.url, verify_for(args.cafile))
    else:
        with running_server_for("http1") as server:
            result = run(server.api_url, server.verify())
    print(json.dumps(result, indent=2))
    return 0 if result["failed"] == 0 and result["verified"] == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
