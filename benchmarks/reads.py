"""Read load: the UI's list queries, as many as concurrent clients can get answered.

Seeds ``--runs`` flow runs (each COMPLETED, with three task runs and five log lines) unless
``--no-seed``, then has ``--clients`` clients repeat each query (``POST /flow_runs/filter``,
``/task_runs/filter`` and ``/logs/filter``, limit 50) for ``--seconds``, and reports reads
per second, latency p50/p99 (of 200 answers) and every failed read (non-200 or no answer in
time). Traffic goes to 127.0.0.1 only.

    python benchmarks/reads.py --clients 16 --seconds 20              # starts our server
    python benchmarks/reads.py --url http://127.0.0.1:4200/api ...    # any server
    python benchmarks/reads.py --protocol h2c --clients 64            # ours, HTTP/2 cleartext

``benchmarks/run.py`` runs this as its ``reads`` workload. More than 16 clients run in
several load-generator processes (``benchmarks/spread.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import ssl
import time
import uuid
from collections import Counter
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
from spread import fits_one_process, merge_counts, run_spread, wait_for_start

QUERIES: dict[str, tuple[str, dict[str, object]]] = {
    "flow_runs": ("/flow_runs/filter", {"limit": 50, "sort": "EXPECTED_START_TIME_DESC"}),
    "task_runs": ("/task_runs/filter", {"limit": 50}),
    "logs": ("/logs/filter", {"limit": 50}),
}
TASKS_PER_RUN = 3
LOGS_PER_RUN = 5


class Seeder:
    """Creates the runs, task runs and logs the queries read; counts what failed."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.failures = Failures()

    async def post(self, what: str, path: str, body: object) -> dict[str, object] | None:
        response = await setup_post(self.client, what, path, body, self.failures)
        if response is None:
            return None
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}

    async def run(self, flow_id: str, index: int, now: dt.datetime) -> None:
        """One COMPLETED flow run with its task runs and log lines."""
        body = {"flow_id": flow_id, "tags": ["bench"], "state": {"type": "PENDING"}}
        run = await self.post("seed flow run", "/flow_runs/", body)
        if not run or "id" not in run:
            return
        run_id = run["id"]
        for state in ("RUNNING", "COMPLETED"):
            path = f"/flow_runs/{run_id}/set_state"
            await self.post("seed set_state", path, {"state": {"type": state}})
        for task in range(TASKS_PER_RUN):
            task_run = {
                "flow_run_id": run_id,
                "task_key": f"task-{task}",
                "dynamic_key": "0",
                "name": f"task-{task}-{index}",
            }
            await self.post("seed task run", "/task_runs/", task_run)
        logs = [
            {
                "name": "bench",
                "level": 20,
                "message": f"line {line}",
                "timestamp": (now + dt.timedelta(milliseconds=line)).isoformat(),
                "flow_run_id": run_id,
                "task_run_id": str(uuid.uuid4()),
            }
            for line in range(LOGS_PER_RUN)
        ]
        await self.post("seed logs", "/logs/", logs)


async def seed(
    url: str, runs: int, verify: ssl.SSLContext | bool = True, seconds: float = 600
) -> dict[str, object]:
    """Seed ``runs`` flow runs one after the other (no lock contention), within ``seconds``."""
    started = time.perf_counter()
    created = 0
    async with http_client(url, 1, verify=verify) as client:
        seeder = Seeder(client)
        flow = await seeder.post("seed flow", "/flows/", {"name": "bench-reads"})
        if not flow or "id" not in flow:
            return {"runs": 0, **seeder.failures.as_dict()}
        now = dt.datetime.now(dt.UTC)
        with trio.move_on_after(seconds):
            for index in range(runs):
                await seeder.run(str(flow["id"]), index, now)
                created += 1
    return {
        "runs": created,
        "seconds": round(time.perf_counter() - started, 2),
        **seeder.failures.as_dict(),
    }


def count_items(response: httpx.Response) -> int:
    """How many objects a list answer holds (-1 when it is not a JSON list)."""
    try:
        body = response.json()
    except ValueError:
        return -1
    return len(body) if isinstance(body, list) else -1


async def run_reads(
    url: str,
    query: str,
    clients: int,
    seconds: float,
    *,
    protocol: Protocol = "http1",
    verify: ssl.SSLContext | bool = True,
    cafile: str | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
) -> dict[str, object]:
    """``clients`` concurrent loops of one query for ``seconds``.

    More clients than one process runs are spread over several (``spread.py``); an https
    ``url`` then needs the ``cafile`` that ``verify`` was made from.
    """
    if fits_one_process(clients):
        return await run_reads_here(
            url,
            query,
            clients,
            seconds,
            protocol=protocol,
            verify=verify,
            request_timeout=request_timeout,
        )
    outputs = await run_spread(
        Path(__file__),
        clients,
        seconds,
        url=url,
        protocol=protocol,
        verify=verify,
        cafile=cafile,
        request_timeout=request_timeout,
        extra_arguments=["--queries", query, "--no-seed"],
    )
    reports = [output["reads"][0] for output in outputs]
    merged = merge_counts(reports, ("reads",))
    items = [report["items_per_read"] for report in reports if report["items_per_read"]]
    return {
        "query": query,
        "clients": clients,
        "protocol": protocol,
        **merged,
        "reads_per_second": round(merged["reads"] / merged["seconds"], 2),
        "items_per_read": items[0] if items else None,
    }


async def run_reads_here(
    url: str,
    query: str,
    clients: int,
    seconds: float,
    *,
    protocol: Protocol = "http1",
    verify: ssl.SSLContext | bool = True,
    request_timeout: float = REQUEST_TIMEOUT,
    start_at: float | None = None,
    samples: bool = False,
) -> dict[str, object]:
    """:func:`run_reads` in this process; from ``start_at`` (wall clock) when given, and
    with every latency sample when ``samples``."""
    path, body = QUERIES[query]
    latencies = Latencies()
    failures = Failures()
    http_versions: Counter[str] = Counter()
    items: list[int] = []
    async with http_client(url, clients, protocol, verify, request_timeout) as client:
        await wait_for_start(start_at)
        deadline = trio.current_time() + seconds

        async def worker() -> None:
            while trio.current_time() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                except httpx.HTTPError as exc:
                    failures.add(query, exc)
                    continue
                http_versions[response.http_version] += 1
                if response.status_code != 200:
                    failures.add(query, response)
                    continue
                latencies.add(time.perf_counter() - started)
                if not items:
                    items.append(count_items(response))

        started = time.perf_counter()
        with trio.move_on_after(seconds + request_timeout + 5) as scope:
            async with trio.open_nursery() as nursery:
                for _ in range(clients):
                    nursery.start_soon(worker)
        elapsed = time.perf_counter() - started
    result: dict[str, Any] = {
        "query": query,
        "clients": clients,
        "protocol": protocol,
        "http_versions": dict(http_versions),
        "seconds": round(elapsed, 2),
        "reads": len(latencies.samples),
        "reads_per_second": round(len(latencies.samples) / elapsed, 2),
        "items_per_read": items[0] if items else None,
        "failed": failures.total(),
        **failures.as_dict(),
        **latencies.summary(),
        "cut_at_time_limit": scope.cancelled_caught,
    }
    if samples:
        result["latency_samples"] = latencies.samples
    return result


async def seed_and_read(
    url: str, args: argparse.Namespace, verify: ssl.SSLContext | bool
) -> dict[str, object]:
    seeded = None if args.no_seed else await seed(url, args.runs, verify)
    results = []
    for query in args.queries:
        if args.worker:
            result = await run_reads_here(
                url,
                query,
                args.clients,
                args.seconds,
                protocol=args.protocol,
                verify=verify,
                start_at=args.start_at,
                samples=True,
            )
        else:
            result = await run_reads(
                url,
                query,
                args.clients,
                args.seconds,
                protocol=args.protocol,
                verify=verify,
                cafile=args.cafile,
            )
        results.append(result)
    return {"seed": seeded, "reads": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="API URL of a running server (default: start ours)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--queries", nargs="+", choices=sorted(QUERIES), default=sorted(QUERIES))
    parser.add_argument("--protocol", choices=PROTOCOLS, default="http1")
    parser.add_argument("--cafile", help="CA bundle for an https URL")
    parser.add_argument("--worker", action="store_true", help="one load process of several")
    parser.add_argument("--start-at", type=float, help="wall-clock start (with --worker)")
    args = parser.parse_args()

    def run(url: str, verify: ssl.SSLContext | bool) -> dict[str, object]:
        require_loopback(url)
        return trio.run(seed_and_read, url, args, verify)

    if args.url:
        result = run(args.url, verify_for(args.cafile))
    else:
        with running_server_for(args.protocol) as server:
            if server.tls:
                args.cafile = str(server.tls.cafile)
            result = run(server.api_url, server.verify())
    print(json.dumps(result, indent=2))
    reads = result["reads"]
    assert isinstance(reads, list)
    return 0 if all(read["failed"] == 0 for read in reads) else 1


if __name__ == "__main__":
    raise SystemExit(main())
