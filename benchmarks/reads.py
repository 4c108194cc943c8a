"""Read load: the UI's list queries, as many as concurrent clients can get answered.

Seeds ``--runs`` flow runs (each with a few task runs and log lines) unless ``--no-seed``,
then has ``--clients`` clients repeat ``POST /flow_runs/filter`` (limit 50), and reports
reads per second and latency. Traffic goes to 127.0.0.1 only.

    python benchmarks/reads.py --clients 16 --seconds 20              # starts our server
    python benchmarks/reads.py --url http://127.0.0.1:4200/api ...    # any server
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import trio

LOOPBACK = ("http://127.0.0.1:", "http://localhost:", "http://[::1]:")
QUERIES = {
    "flow_runs": ("/flow_runs/filter", {"limit": 50, "sort": "EXPECTED_START_TIME_DESC"}),
    "task_runs": ("/task_runs/filter", {"limit": 50}),
    "logs": ("/logs/filter", {"limit": 50}),
}


async def seed(client: httpx.AsyncClient, runs: int) -> None:
    flow = (await client.post("/flows/", json={"name": "read-load"})).json()
    now = dt.datetime.now(dt.UTC)
    for index in range(runs):
        run = (
            await client.post(
                "/flow_runs/",
                json={"flow_id": flow["id"], "tags": ["bench"], "state": {"type": "PENDING"}},
            )
        ).json()
        for state in ("RUNNING", "COMPLETED"):
            await client.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": state}})
        for task in range(3):
            await client.post(
                "/task_runs/",
                json={
                    "flow_run_id": run["id"],
                    "task_key": f"task-{task}",
                    "dynamic_key": "0",
                    "name": f"task-{task}-{index}",
                },
            )
        await client.post(
            "/logs/",
            json=[
                {
                    "name": "bench",
                    "level": 20,
                    "message": f"line {line}",
                    "timestamp": (now + dt.timedelta(milliseconds=line)).isoformat(),
                    "flow_run_id": run["id"],
                    "task_run_id": str(uuid.uuid4()),
                }
                for line in range(5)
            ],
        )


async def load(url: str, query: str, clients: int, seconds: float) -> dict[str, object]:
    path, body = QUERIES[query]
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        deadline = trio.current_time() + seconds

        async def worker() -> None:
            nonlocal failures
            while trio.current_time() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                except httpx.HTTPError:
                    failures += 1
                    continue
                if response.status_code != 200:
                    failures += 1
                    continue
                latencies.append(time.perf_counter() - started)

        async with trio.open_nursery() as nursery:
            for _ in range(clients):
                nursery.start_soon(worker)
    latencies.sort()

    def percentile(q: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)

    return {
        "query": query,
        "clients": clients,
        "reads_per_second": round(len(latencies) / seconds, 1),
        "failed": failures,
        "p50_ms": percentile(0.5),
        "p99_ms": percentile(0.99),
    }


async def main_async(args: argparse.Namespace, url: str) -> list[dict[str, object]]:
    if not args.no_seed:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await seed(client, args.runs)
    return [await load(url, query, args.clients, args.seconds) for query in args.queries]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="API URL of a running server (default: start ours)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--queries", nargs="+", choices=sorted(QUERIES), default=sorted(QUERIES))
    args = parser.parse_args()

    server = None
    url = args.url
    if url is None:
        from prefect_trio_server.settings import Settings
        from prefect_trio_server.subprocess_server import SubprocessASGIServer

        home = Path(tempfile.mkdtemp(prefix="bench-reads-"))
        server = SubprocessASGIServer(settings=Settings(home=home))
        server.start()
        url = server.api_url
    if not url.startswith(LOOPBACK):
        print("refusing a non-loopback URL", file=sys.stderr)
        return 2
    try:
        results = trio.run(main_async, args, url)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(results, indent=2))
    return 0 if all(result["failed"] == 0 for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
