"""Write load: concurrent clients running flow-run lifecycles, every failure counted.

Each client loops: create a flow run (Scheduled), then propose PENDING, RUNNING and
COMPLETED, until the duration is up (or ``--max-lifecycles`` in all). Traffic goes to
127.0.0.1 only.

    python benchmarks/lifecycles.py --clients 64 --seconds 60            # starts our server
    python benchmarks/lifecycles.py --url http://127.0.0.1:4200/api ...   # any server

Prints lifecycles per second, request latency p50/p99 and every failed request.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio

LOOPBACK = ("http://127.0.0.1:", "http://localhost:", "http://[::1]:")


@dataclass
class Tally:
    lifecycles: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)


async def lifecycle(client: httpx.AsyncClient, flow_id: str, tally: Tally) -> None:
    async def call(method: str, path: str, body: object) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            tally.failures[f"{path.split('/')[-1]}: {type(exc).__name__}"] += 1
            return None
        tally.latencies.append(time.perf_counter() - started)
        if response.status_code >= 300:
            tally.failures[f"{path.split('/')[-1]}: HTTP {response.status_code}"] += 1
            return None
        return response

    created = await call(
        "POST", "/flow_runs/", {"flow_id": flow_id, "state": {"type": "SCHEDULED"}}
    )
    if created is None:
        return
    run_id = created.json()["id"]
    for state in ("PENDING", "RUNNING", "COMPLETED"):
        response = await call("POST", f"/flow_runs/{run_id}/set_state", {"state": {"type": state}})
        if response is None:
            return
        status = response.json()["status"]
        if status != "ACCEPT":
            tally.failures[f"set_state {state}: {status}"] += 1
            return
    tally.lifecycles += 1


async def run_load(url: str, clients: int, seconds: float, max_lifecycles: int) -> Tally:
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        flow = await client.post("/flows/", json={"name": "load-test"})
        flow.raise_for_status()
        flow_id = flow.json()["id"]
        deadline = trio.current_time() + seconds

        async def worker() -> None:
            while trio.current_time() < deadline and tally.lifecycles < max_lifecycles:
                await lifecycle(client, flow_id, tally)

        async with trio.open_nursery() as nursery:
            for _ in range(clients):
                nursery.start_soon(worker)
    return tally


def report(tally: Tally, seconds: float, clients: int) -> dict[str, object]:
    latencies = sorted(tally.latencies)

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "clients": clients,
        "seconds": round(seconds, 1),
        "lifecycles": tally.lifecycles,
        "lifecycles_per_second": round(tally.lifecycles / seconds, 1),
        "requests": len(latencies) + sum(tally.failures.values()),
        "failed_requests": sum(tally.failures.values()),
        "failures": dict(tally.failures),
        "p50_ms": round(percentile(0.50), 1) if latencies else None,
        "p99_ms": round(percentile(0.99), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="API URL of a running server (default: start ours)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-lifecycles", type=int, default=1_000_000)
    args = parser.parse_args()

    server = None
    url = args.url
    if url is None:
        from prefect_trio_server.settings import Settings
        from prefect_trio_server.subprocess_server import SubprocessASGIServer

        home = Path(tempfile.mkdtemp(prefix="bench-lifecycles-"))
        server = SubprocessASGIServer(settings=Settings(home=home))
        server.start()
        url = server.api_url
    if not url.startswith(LOOPBACK):
        print("refusing a non-loopback URL", file=sys.stderr)
        return 2
    try:
        started = time.perf_counter()
        tally = trio.run(run_load, url, args.clients, args.seconds, args.max_lifecycles)
        elapsed = time.perf_counter() - started
    finally:
        if server is not None:
            server.stop()
    result = report(tally, elapsed, args.clients)
    print(json.dumps(result, indent=2))
    return 0 if result["failed_requests"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
