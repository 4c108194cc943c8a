"""Write load: concurrent clients running flow-run lifecycles, every failure counted.

Each client loops: create a flow run (SCHEDULED), then propose PENDING, RUNNING and
COMPLETED, until the duration is up (or ``--max-lifecycles`` in all). A request fails when
it gets no answer in time (transport error or timeout), a non-2xx status, or an
orchestration status other than ACCEPT; latency percentiles are of the answered 2xx
requests. Traffic goes to 127.0.0.1 only.

    python benchmarks/lifecycles.py --clients 64 --seconds 60            # starts our server
    python benchmarks/lifecycles.py --url http://127.0.0.1:4200/api ...   # any server
    python benchmarks/lifecycles.py --protocol h2c --url http://127.0.0.1:4200/api

Prints lifecycles per second, request latency p50/p99 and every failed request as JSON.
``benchmarks/run.py`` runs this as its ``writes`` workload. More than 16 clients run in
several load-generator processes (``benchmarks/spread.py``).
"""

from __future__ import annotations

import argparse
import json
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
from _common import (
    PROTOCOLS,
    REQUEST_TIMEOUT,
    Failures,
    Latencies,
    Protocol,
    http_client,
    require_loopback,
    running_server_for,
    setup_post,
    verify_for,
)
from spread import client_shares, fits_one_process, merge_counts, run_spread, wait_for_start

STATES = ("PENDING", "RUNNING", "COMPLETED")


@dataclass
class Tally:
    lifecycles: int = 0
    requests: int = 0
    latencies: Latencies = field(default_factory=Latencies)
    failures: Failures = field(default_factory=Failures)
    http_versions: Counter[str] = field(default_factory=Counter)

    async def call(
        self, client: httpx.AsyncClient, what: str, path: str, body: object
    ) -> httpx.Response | None:
        """POST ``body``; the response when 2xx, else None with the failure counted."""
        self.requests += 1
        started = time.perf_counter()
        try:
            response = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            self.failures.add(what, exc)
            return None
        self.http_versions[response.http_version] += 1
        if not response.is_success:
            self.failures.add(what, response)
            return None
        self.latencies.add(time.perf_counter() - started)
        return response


def json_field(response: httpx.Response, name: str) -> object:
    """``response.json()[name]``, or None when the body is not a JSON object with it."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


async def lifecycle(client: httpx.AsyncClient, flow_id: str, tally: Tally) -> None:
    """One flow run from SCHEDULED to COMPLETED; stops at the first failure."""
    body = {"flow_id": flow_id, "state": {"type": "SCHEDULED"}}
    created = await tally.call(client, "create", "/flow_runs/", body)
    if created is None:
        return
    if json_field(created, "id") is None:
        tally.failures.add("create", "no id in the answer")
        return
    run_id = json_field(created, "id")
    for state in STATES:
        path = f"/flow_runs/{run_id}/set_state"
        response = await tally.call(client, f"set_state {state}", path, {"state": {"type": state}})
        if response is None:
            return
        status = json_field(response, "status")
        if status != "ACCEPT":
            tally.failures.add(f"set_state {state}", str(status))
            return
    tally.lifecycles += 1


async def create_flow(client: httpx.AsyncClient, name: str) -> str:
    failures = Failures()
    response = await setup_post(client, "create flow", "/flows/", {"name": name}, failures)
    if response is None:
        raise RuntimeError(f"could not create the flow: {failures.as_dict()}")
    return str(response.json()["id"])


async def run_writes(
    url: str,
    clients: int,
    seconds: float,
    *,
    protocol: Protocol = "http1",
    verify: ssl.SSLContext | bool = True,
    cafile: str | None = None,
    max_lifecycles: int = 1_000_000,
    request_timeout: float = REQUEST_TIMEOUT,
) -> dict[str, object]:
    """``clients`` concurrent lifecycle loops for ``seconds``; the report of :func:`report`.

    More clients than one process runs are spread over several (``spread.py``); an https
    ``url`` then needs the ``cafile`` that ``verify`` was made from.
    """
    if fits_one_process(clients):
        return await run_writes_here(
            url,
            clients,
            seconds,
            protocol=protocol,
            verify=verify,
            max_lifecycles=max_lifecycles,
            request_timeout=request_timeout,
        )
    per_process = -(-max_lifecycles // len(client_shares(clients)))
    reports = await run_spread(
        Path(__file__),
        clients,
        seconds,
        url=url,
        protocol=protocol,
        verify=verify,
        cafile=cafile,
        request_timeout=request_timeout,
        extra_arguments=["--max-lifecycles", str(per_process)],
    )
    merged = merge_counts(reports, ("lifecycles", "requests"), failed_field="failed_requests")
    return {
        "clients": clients,
        "protocol": protocol,
        **merged,
        "lifecycles_per_second": round(merged["lifecycles"] / merged["seconds"], 2),
    }


async def run_writes_here(
    url: str,
    clients: int,
    seconds: float,
    *,
    protocol: Protocol = "http1",
    verify: ssl.SSLContext | bool = True,
    max_lifecycles: int = 1_000_000,
    request_timeout: float = REQUEST_TIMEOUT,
    start_at: float | None = None,
    samples: bool = False,
) -> dict[str, object]:
    """:func:`run_writes` in this process; from ``start_at`` (wall clock) when given, and
    with every latency sample when ``samples``."""
    tally = Tally()
    async with http_client(url, clients, protocol, verify, request_timeout) as client:
        flow_id = await create_flow(client, "bench-writes")
        await wait_for_start(start_at)
        deadline = trio.current_time() + seconds

        async def worker() -> None:
            while trio.current_time() < deadline and tally.lifecycles < max_lifecycles:
                await lifecycle(client, flow_id, tally)

        started = time.perf_counter()
        # In-flight requests at the deadline get ``request_timeout``; then everything stops.
        with trio.move_on_after(seconds + request_timeout + 5) as scope:
            async with trio.open_nursery() as nursery:
                for _ in range(clients):
                    nursery.start_soon(worker)
        elapsed = time.perf_counter() - started
    result: dict[str, Any] = report(tally, elapsed, clients, protocol, cut=scope.cancelled_caught)
    if samples:
        result["latency_samples"] = tally.latencies.samples
    return result


def report(
    tally: Tally, seconds: float, clients: int, protocol: Protocol, cut: bool = False
) -> dict[str, object]:
    failed = tally.failures.total()
    return {
        "clients": clients,
        "protocol": protocol,
        "http_versions": dict(tally.http_versions),
        "seconds": round(seconds, 2),
        "lifecycles": tally.lifecycles,
        "lifecycles_per_second": round(tally.lifecycles / seconds, 2),
        "requests": tally.requests,
        "failed_requests": failed,
        **tally.failures.as_dict(),
        **tally.latencies.summary(),
        "cut_at_time_limit": cut,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="API URL of a running server (default: start ours)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-lifecycles", type=int, default=1_000_000)
    parser.add_argument("--protocol", choices=PROTOCOLS, default="http1")
    parser.add_argument("--cafile", help="CA bundle for an https URL")
    parser.add_argument("--worker", action="store_true", help="one load process of several")
    parser.add_argument("--start-at", type=float, help="wall-clock start (with --worker)")
    args = parser.parse_args()

    def run(url: str, verify: ssl.SSLContext | bool, cafile: str | None) -> dict[str, object]:
        require_loopback(url)
        if args.worker:
            return trio.run(
                lambda: run_writes_here(
                    url,
                    args.clients,
                    args.seconds,
                    protocol=args.protocol,
                    verify=verify,
                    max_lifecycles=args.max_lifecycles,
                    start_at=args.start_at,
                    samples=True,
                )
            )
        return trio.run(
            lambda: run_writes(
                url,
                args.clients,
                args.seconds,
                protocol=args.protocol,
                verify=verify,
                cafile=cafile,
                max_lifecycles=args.max_lifecycles,
            )
        )

    if args.url:
        result = run(args.url, verify_for(args.cafile), args.cafile)
    else:
        with running_server_for(args.protocol) as server:
            cafile = str(server.tls.cafile) if server.tls else None
            result = run(server.api_url, server.verify(), cafile)
    print(json.dumps(result, indent=2))
    return 0 if result["failed_requests"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
