"""The benchmark harness: every workload against our server and Prefect 3.9.1's, side by side.

    python benchmarks/run.py                        # everything (what `make bench` runs)
    python benchmarks/run.py --quick                # short smoke run: ~3 s per point
    python benchmarks/run.py --only ours --workloads writes,reads --clients 1,16 --seconds 5

Workloads (``--workloads``, comma-separated; default all):

- ``startup``: process start to the first 200 on /api/health (``... start`` command) and
  ``SubprocessASGIServer().start()``, fresh and warm database (benchmarks/startup.py);
- ``writes``: flow-run lifecycles per second and request p50/p99 at each ``--clients``
  (benchmarks/lifecycles.py);
- ``reads``: flow-run, task-run and log filters (limit 50) on ``--seed-runs`` seeded runs,
  at each ``--clients`` (benchmarks/reads.py);
- ``events``: websocket event ingest at each ``--clients``, every event checked as stored
  (benchmarks/events.py);
- ``memory``: resident memory of the server's process tree when idle (after a settle of
  ``--settle`` seconds of polling /api/health) and after a write and read load;
- ``protocols``: writes and flow-run reads on our server over HTTP/1.1, HTTP/2 with TLS and
  h2c (ours only: Prefect's uvicorn has no HTTP/2).

Each server is started the way users start it (``prefect-trio-server start`` /
``prefect server start``) on 127.0.0.1, a free port and a fresh PREFECT_HOME (SQLite) per
workload family, with the parent's PREFECT_* variables removed. Prefect is installed into
benchmarks/.venv-prefect on first use. Every request has a timeout and every workload a
time limit; failed requests are counted, and a workload that cannot run is recorded and
skipped. Raw results go to benchmarks/results/<UTC timestamp>.json; the markdown tables
are printed (``benchmarks/report.py RESULTS.json`` prints them again and draws the plots).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio
from _common import (
    HERE,
    PREFECT_REQUIREMENT,
    PROTOCOLS,
    Protocol,
    RunningServer,
    ServerKind,
    machine,
    mib,
    prefect_python,
    prefect_version,
    process_tree,
    running_server,
    running_server_for,
)
from events import run_events
from lifecycles import run_writes
from reads import QUERIES, run_reads, seed
from report import markdown
from startup import startup_of

WORKLOADS = ("startup", "writes", "reads", "events", "memory", "protocols")
RESULTS_DIR = HERE / "results"


@dataclass(frozen=True)
class Plan:
    kinds: tuple[ServerKind, ...]
    workloads: tuple[str, ...]
    clients: tuple[int, ...]
    seconds: float
    startup_runs: int
    seed_runs: int
    max_events: int
    verify_seconds: float
    settle: float
    prefect_python: str | None
    quick: bool


# -- one family of measurements per server ---------------------------------------------------


def server_facts(server: RunningServer) -> dict[str, Any]:
    return {
        "startup_seconds": round(server.startup_seconds, 3),
        "alive_after": server.alive(),
        "rss_after_mib": mib(server.rss_bytes()),
    }


def require_alive(server: RunningServer) -> None:
    if not server.alive():
        raise RuntimeError(f"the server died: {server.log_tail(10)}")


def measure_point(
    server: RunningServer, clients: int, thunk: Callable[[], Awaitable[dict[str, object]]]
) -> dict[str, object]:
    """``trio.run(thunk)``: one measurement, with the CPU time the server's processes spent
    during it; an error is recorded in its place, not raised."""
    require_alive(server)
    cpu_before = server.cpu_seconds()
    try:
        result = trio.run(thunk)
    except Exception as exc:
        traceback.print_exc()
        return {"clients": clients, "error": f"{type(exc).__name__}: {exc}"}
    return {**result, "server_cpu_seconds": round(server.cpu_seconds() - cpu_before, 3)}


def writes_family(kind: ServerKind, plan: Plan) -> dict[str, Any]:
    with running_server(kind, python=plan.prefect_python) as server:
        url = server.api_url
        results = [
            measure_point(server, c, partial(run_writes, url, c, plan.seconds))
            for c in plan.clients
        ]
        return {"server": server_facts(server), "points": results}


def reads_family(kind: ServerKind, plan: Plan) -> dict[str, Any]:
    with running_server(kind, python=plan.prefect_python) as server:
        seeded = trio.run(seed, server.api_url, plan.seed_runs)
        url = server.api_url
        results = [
            measure_point(server, c, partial(run_reads, url, q, c, plan.seconds))
            for q in QUERIES
            for c in plan.clients
        ]
        return {"server": server_facts(server), "seed": seeded, "points": results}


def events_family(kind: ServerKind, plan: Plan) -> dict[str, Any]:
    with running_server(kind, python=plan.prefect_python) as server:
        url = server.api_url
        results = [
            measure_point(
                server,
                c,
                partial(
                    run_events,
                    url,
                    c,
                    plan.seconds,
                    max_events=plan.max_events,
                    verify_seconds=plan.verify_seconds,
                ),
            )
            for c in plan.clients
        ]
        return {"server": server_facts(server), "points": results}


def settle(server: RunningServer, seconds: float) -> int:
    """Poll /api/health for ``seconds`` (a fixed settle, not a readiness wait); failures."""
    failures = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(verify=server.verify(), timeout=5) as client:
        while (left := deadline - time.monotonic()) > 0:
            try:
                client.get(f"{server.api_url}/health").raise_for_status()
            except httpx.HTTPError:
                failures += 1
            time.sleep(min(0.5, max(0.0, left)))  # the poll's pace over the settle
    return failures


def memory_family(kind: ServerKind, plan: Plan) -> dict[str, Any]:
    """Idle RSS after a settle, then RSS after writes and reads at the highest concurrency."""
    with running_server(kind, python=plan.prefect_python) as server:
        settle_failures = settle(server, plan.settle)
        idle = server.rss_bytes()
        clients = max(plan.clients)
        load = {
            "writes": trio.run(run_writes, server.api_url, clients, plan.seconds),
            "seed": trio.run(seed, server.api_url, plan.seed_runs),
            "reads": trio.run(run_reads, server.api_url, "flow_runs", clients, plan.seconds),
        }
        require_alive(server)
        return {
            "idle_rss_mib": mib(idle),
            "after_load_rss_mib": mib(server.rss_bytes()),
            "peak_rss_mib": mib(server.peak_rss_bytes()),
            "processes": len(process_tree(server.process.pid)),
            "settle_seconds": plan.settle,
            "settle_failures": settle_failures,
            "load_clients": clients,
            "load": load,
        }


def protocol_family(protocol: Protocol, plan: Plan) -> dict[str, Any]:
    """Writes and flow-run reads at each concurrency over ``protocol``, on a fresh server."""
    with running_server_for(protocol) as server:
        url, verify = server.api_url, server.verify()
        cafile = str(server.tls.cafile) if server.tls else None
        seeded = trio.run(partial(seed, url, plan.seed_runs, verify))
        writes, reads = [], []
        for c in plan.clients:
            writes.append(
                measure_point(
                    server,
                    c,
                    partial(
                        run_writes,
                        url,
                        c,
                        plan.seconds,
                        protocol=protocol,
                        verify=verify,
                        cafile=cafile,
                    ),
                )
            )
            reads.append(
                measure_point(
                    server,
                    c,
                    partial(
                        run_reads,
                        url,
                        "flow_runs",
                        c,
                        plan.seconds,
                        protocol=protocol,
                        verify=verify,
                        cafile=cafile,
                    ),
                )
            )
        return {"server": server_facts(server), "seed": seeded, "writes": writes, "reads": reads}


def protocols_family(plan: Plan) -> dict[str, Any]:
    """Our server over HTTP/1.1, HTTP/2 with TLS and h2c; one protocol's failure is recorded."""
    family: dict[str, Any] = {}
    for protocol in PROTOCOLS:
        try:
            family[protocol] = protocol_family(protocol, plan)
        except Exception as exc:
            traceback.print_exc()
            family[protocol] = {"error": f"{type(exc).__name__}: {exc}"}
    return family


FAMILIES: dict[str, Callable[[ServerKind, Plan], dict[str, Any]]] = {
    "startup": lambda kind, plan: startup_of(kind, plan.startup_runs, plan.prefect_python),
    "writes": writes_family,
    "reads": reads_family,
    "events": events_family,
    "memory": memory_family,
    "protocols": lambda kind, plan: protocols_family(plan),
}


# -- the run ---------------------------------------------------------------------------------


def run_all(plan: Plan, document: dict[str, Any], output: Path) -> None:
    """Every chosen workload, ours then Prefect's; the file is rewritten after each."""
    for workload in plan.workloads:
        kinds = ("ours",) if workload == "protocols" else plan.kinds
        for kind in kinds:
            print(f"== {workload}: {kind} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            try:
                outcome = FAMILIES[workload](kind, plan)
            except Exception as exc:  # recorded; the other workloads still run
                traceback.print_exc()
                document["errors"].append(
                    {"workload": workload, "server": kind, "error": f"{type(exc).__name__}: {exc}"}
                )
            else:
                document["results"].setdefault(workload, {})[kind] = outcome
            took = time.perf_counter() - started
            print(f"   done in {took:.0f} s", file=sys.stderr, flush=True)
            write_json(output, document)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def versions(plan: Plan) -> dict[str, str]:
    from importlib.metadata import version

    found = {"ours": version("prefect-trio-server"), "hypercorn": version("hypercorn")}
    if "prefect" in plan.kinds:
        found["prefect"] = prefect_version(prefect_python(plan.prefect_python))
    return found


def comma_ints(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def comma_workloads(text: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = set(values) - set(WORKLOADS)
    if unknown or not values:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(WORKLOADS)}")
    return values


def parse_plan(argv: list[str] | None = None) -> tuple[Plan, Path]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", choices=["ours", "prefect"])
    parser.add_argument("--quick", action="store_true", help="short smoke-run defaults")
    parser.add_argument("--seconds", type=float, help="per measurement point (15; quick: 3)")
    parser.add_argument("--clients", type=comma_ints, default=(1, 16, 64))
    parser.add_argument("--workloads", type=comma_workloads, default=WORKLOADS)
    parser.add_argument("--startup-runs", type=int, help="runs per start-up median (5; quick 1)")
    parser.add_argument("--seed-runs", type=int, help="flow runs seeded for reads (300; 100)")
    parser.add_argument("--max-events", type=int, help="events per point at most (50000; 5000)")
    parser.add_argument("--verify-seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, help="idle seconds before idle RSS (5; 2)")
    parser.add_argument("--prefect-python", help=f"an interpreter with {PREFECT_REQUIREMENT}")
    parser.add_argument("--output", type=Path, help="results file (default: results/<UTC>.json)")
    args = parser.parse_args(argv)

    def pick(value: Any, normal: Any, quick: Any) -> Any:
        return value if value is not None else (quick if args.quick else normal)

    plan = Plan(
        kinds=(args.only,) if args.only else ("ours", "prefect"),
        workloads=args.workloads,
        clients=args.clients,
        seconds=pick(args.seconds, 15.0, 3.0),
        startup_runs=pick(args.startup_runs, 5, 1),
        seed_runs=pick(args.seed_runs, 300, 100),
        max_events=pick(args.max_events, 50_000, 5_000),
        verify_seconds=args.verify_seconds,
        settle=pick(args.settle, 5.0, 2.0),
        prefect_python=args.prefect_python,
        quick=args.quick,
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return plan, args.output or RESULTS_DIR / f"{stamp}.json"


def main(argv: list[str] | None = None) -> int:
    plan, output = parse_plan(argv)
    if "prefect" in plan.kinds:
        prefect_python(plan.prefect_python)  # install before anything is timed
    document: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(plan),
        "config": {k: v for k, v in asdict(plan).items() if k != "prefect_python"},
        "results": {},
        "errors": [],
    }
    run_all(plan, document, output)
    document["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    write_json(output, document)
    print(markdown(document))
    print(f"raw results: {output}\nplots: python benchmarks/report.py {output}")
    return 0 if not document["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
