"""Start-up benchmark: ours beside Prefect 3.9.1's own server, same machine, same run.

Measures, for each server, the time from a plain Python process calling
``SubprocessASGIServer().start()`` to its return (healthy), on a fresh and on a warm
database, and the time from ``... start`` on the command line to the first 200 on
``/api/health``. Traffic goes to 127.0.0.1 only; every run is bounded in time.

    python benchmarks/startup.py [--runs 5] [--prefect-python PATH] [--only ours]

Prefect is installed into ``benchmarks/.venv-prefect`` (its own virtual environment) on
first use unless ``--prefect-python`` names an interpreter that has it. ``benchmarks/run.py``
runs this as its ``startup`` workload.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import (
    START_TIMEOUT,
    ServerKind,
    clean_environment,
    free_port,
    prefect_python,
    server_command,
    stop_process_group,
    wait_healthy,
)

TIME_START = """
import json, sys, time
t0 = time.perf_counter()
from {module} import SubprocessASGIServer
server = SubprocessASGIServer()
server.start(timeout={timeout})
t1 = time.perf_counter()
server.stop()
print(json.dumps({{"start": t1 - t0}}))
"""
MODULES: dict[ServerKind, str] = {
    "ours": "prefect_trio_server",
    "prefect": "prefect.server.api.server",
}


def subprocess_start(python: str, module: str, home: Path) -> float:
    """Seconds from a fresh interpreter importing ``module`` to ``start()`` returning.

    ``start`` gets START_TIMEOUT: Prefect's default (20 s) is too short for a fresh database
    on a busy two-core machine."""
    code = TIME_START.format(module=module, timeout=int(START_TIMEOUT))
    out = subprocess.run(
        [python, "-c", code],
        env=clean_environment(home),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT + 30,
        check=False,
    )
    if out.returncode != 0:
        tail = " | ".join(out.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"{module}: SubprocessASGIServer().start() failed: {tail}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["start"])


def command_start(argv: list[str], port: int, home: Path) -> float:
    """Seconds from spawning ``argv`` to the first 200 on /api/health."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        env=clean_environment(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/api/health", process)
        return time.perf_counter() - started
    finally:
        stop_process_group(process)


def measure(runs: int, fn: Callable[[Path], float], fresh: bool) -> float:
    """Median of ``runs`` calls of ``fn(home)``, each on a new home or all on one warm home."""
    samples = []
    warm_home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    try:
        if not fresh:
            fn(warm_home)  # creates and migrates the warm database
        for _ in range(runs):
            home = Path(tempfile.mkdtemp(prefix="bench-home-")) if fresh else warm_home
            try:
                samples.append(fn(home))
            finally:
                if fresh:
                    shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(warm_home, ignore_errors=True)
    return round(statistics.median(samples), 3)


def python_of(kind: ServerKind, prefect: str | None) -> str:
    return sys.executable if kind == "ours" else prefect_python(prefect)


def startup_of(kind: ServerKind, runs: int, prefect: str | None = None) -> dict[str, float]:
    """The four start-up medians (seconds) of one server."""
    python = python_of(kind, prefect)
    row: dict[str, float] = {}

    def by_subprocess(home: Path) -> float:
        return subprocess_start(python, MODULES[kind], home)

    def by_command(home: Path) -> float:
        port = free_port()
        return command_start(server_command(kind, port, python), port, home)

    for fresh in (True, False):
        label = "fresh" if fresh else "warm"
        row[f"SubprocessASGIServer().start() ({label} db)"] = measure(runs, by_subprocess, fresh)
        row[f"start command to first 200 ({label} db)"] = measure(runs, by_command, fresh)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prefect-python")
    parser.add_argument("--only", choices=["ours", "prefect"])
    args = parser.parse_args()

    kinds: list[ServerKind] = [k for k in ("ours", "prefect") if args.only in (None, k)]
    results = {kind: startup_of(kind, args.runs, args.prefect_python) for kind in kinds}

    names = list(results)
    ratio_header = " ratio (lower is better) |" if len(names) == 2 else ""
    print("| measure (median seconds) | " + " | ".join(names) + " |" + ratio_header)
    print("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for measure_name in results[names[0]]:
        values = [results[n][measure_name] for n in names]
        cells = " | ".join(f"{v:.2f}" for v in values)
        ratio = f" {values[0] / values[1]:.2f}x |" if len(values) == 2 else ""
        print(f"| {measure_name} | {cells} |{ratio}")


if __name__ == "__main__":
    main()
