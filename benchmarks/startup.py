"""Start-up benchmark: ours beside Prefect 3.9.1's own server, same machine, same run.

Measures, for each server, the time from a plain Python process calling
``SubprocessASGIServer().start()`` to its return (healthy), on a fresh and on a warm
database, and the time from ``... start`` on the command line to the first 200 on
``/api/health``. Traffic goes to 127.0.0.1 only; every run is bounded in time.

    python benchmarks/startup.py [--runs 5] [--prefect-python PATH] [--only ours]

Prefect is installed into ``benchmarks/.venv-prefect`` (its own virtual environment) on
first use unless ``--prefect-python`` names an interpreter that has it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
PREFECT_VENV = HERE / ".venv-prefect"
PREFECT_REQUIREMENT = "prefect==3.9.1"

TIME_START = """
import json, sys, time
t0 = time.perf_counter()
from {module} import SubprocessASGIServer
server = SubprocessASGIServer()
server.start()
t1 = time.perf_counter()
server.stop()
print(json.dumps({{"start": t1 - t0}}))
"""


def prefect_python(explicit: str | None) -> str:
    if explicit:
        return explicit
    python = PREFECT_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {PREFECT_REQUIREMENT} into {PREFECT_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PREFECT_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", PREFECT_REQUIREMENT], check=True
        )
    return str(python)


def clean_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    env["PREFECT_UI_ENABLED"] = "false"
    return env


def subprocess_start(python: str, module: str, home: Path) -> float:
    out = subprocess.run(
        [python, "-c", TIME_START.format(module=module)],
        env=clean_environment(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["start"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command_start(argv: list[str], port: int, home: Path) -> float:
    """Seconds from spawning ``argv`` to the first 200 on /api/health."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=clean_environment(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited with {process.returncode}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/api/health", timeout=1).is_success:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    time.sleep(0.01)
        raise RuntimeError("never healthy")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(runs: int, fn, fresh: bool) -> float:  # type: ignore[no-untyped-def]
    samples = []
    warm_home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    fn(warm_home)  # creates and migrates the warm database
    try:
        for _ in range(runs):
            home = Path(tempfile.mkdtemp(prefix="bench-home-")) if fresh else warm_home
            samples.append(fn(home))
            if fresh:
                shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(warm_home, ignore_errors=True)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prefect-python")
    parser.add_argument("--only", choices=["ours", "prefect"])
    args = parser.parse_args()

    servers: dict[str, tuple[str, str, list[str]]] = {}
    if args.only != "prefect":
        ours_cli = str(Path(sys.executable).parent / "prefect-trio-server")
        servers["ours"] = (sys.executable, "prefect_trio_server", [ours_cli, "start"])
    if args.only != "ours":
        python = prefect_python(args.prefect_python)
        prefect_cli = str(Path(python).parent / "prefect")
        servers["prefect"] = (python, "prefect.server.api.server", [prefect_cli, "server", "start"])

    results: dict[str, dict[str, float]] = {}
    for name, (python, module, cli) in servers.items():
        row = results.setdefault(name, {})
        for fresh in (False, True):
            label = "fresh" if fresh else "warm"
            row[f"SubprocessASGIServer.start ({label})"] = measure(
                args.runs, lambda home, p=python, m=module: subprocess_start(p, m, home), fresh
            )

            def cli_start(home: Path, argv: list[str] = cli) -> float:
                port = free_port()
                return command_start([*argv, "--port", str(port)], port, home)

            row[f"command to first 200 ({label})"] = measure(args.runs, cli_start, fresh)

    names = list(results)
    print(
        "| measure (median seconds) | "
        + " | ".join(names)
        + (" | ratio |" if len(names) == 2 else " |")
    )
    print("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for measure_name in results[names[0]]:
        values = [results[n][measure_name] for n in names]
        cells = " | ".join(f"{v:.2f}" for v in values)
        ratio = f" | {values[0] / values[1]:.2f}x |" if len(values) == 2 else " |"
        print(f"| {measure_name} | {cells}{ratio}")


if __name__ == "__main__":
    main()
