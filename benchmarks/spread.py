"""Clients of one workload spread over several load-generator processes.

A load generator is one Python process: one trio loop, one httpx client. Past a few dozen
clients it is the loop, not the server, that decides when a request goes out and when its
answer is read. With 64 write clients in one process our server was answering every request
within 0.6 s (timed inside the app), while the load generator counted a p99 of 2.3-2.7 s and
a maximum of 4.9 s, and answers sat unread in its sockets; the same 64 clients in four
processes of 16 measured a p99 of 0.52-0.55 s and 43 lifecycles per second against 31-35.

So a workload with more than ``CLIENTS_PER_PROCESS`` clients runs in as many processes as it
takes (64 clients: four of 16), each the workload's own script with ``--worker``. They all
start at one moment given to them (``--start-at``, after their imports and set-up), run for
the same seconds, and print their counts with every latency sample; the caller adds them up
(:func:`merge_counts`) and takes percentiles over all samples. Each process opens its own
connections, as the separate flow-run processes of a Prefect deployment do. Fewer clients
run in the caller's own process, as before.
"""

from __future__ import annotations

import json
import math
import ssl
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
from _common import Failures, Latencies, Protocol

CLIENTS_PER_PROCESS = 16
"""The most clients one load-generator process runs."""

START_ALLOWANCE = 4.0
"""Seconds the worker processes get to import, connect and set up before they start."""

WORKER_GRACE = 60.0
"""Seconds a worker may take beyond its run and its requests' timeout before it is killed."""


def client_shares(clients: int, per_process: int = CLIENTS_PER_PROCESS) -> list[int]:
    """Clients per process: as few processes as hold ``per_process`` each, shares even."""
    if clients < 1:
        raise ValueError(f"clients must be positive, not {clients}")
    processes = math.ceil(clients / per_process)
    base, extra = divmod(clients, processes)
    return [base + (1 if index < extra else 0) for index in range(processes)]


def cafile_of(verify: ssl.SSLContext | bool, cafile: str | None) -> str | None:
    """The CA bundle worker processes verify with; an SSL context alone cannot be passed."""
    if isinstance(verify, ssl.SSLContext) and cafile is None:
        raise ValueError("pass cafile= to spread an https workload over processes")
    return cafile


async def wait_for_start(start_at: float | None) -> None:
    """Sleep until the wall-clock time ``start_at`` (no-op when None or past)."""
    if start_at is not None:
        await trio.sleep(max(0.0, start_at - time.time()))


async def run_workers(
    script: Path,
    arguments: Sequence[str],
    shares: Sequence[int],
    seconds: float,
    request_timeout: float,
) -> list[dict[str, Any]]:
    """Run ``script --worker`` once per share, all starting together; their JSON reports."""
    start_at = time.time() + START_ALLOWANCE
    finished: list[subprocess.CompletedProcess[bytes] | None] = [None for _ in shares]
    limit = START_ALLOWANCE + seconds + request_timeout + WORKER_GRACE

    async def one(index: int, clients: int) -> None:
        command = [
            sys.executable,
            str(script),
            *arguments,
            "--clients",
            str(clients),
            "--worker",
            "--start-at",
            repr(start_at),
        ]
        with trio.fail_after(limit):
            finished[index] = await trio.run_process(
                command, capture_stdout=True, capture_stderr=True, check=False
            )

    async with trio.open_nursery() as nursery:
        for index, clients in enumerate(shares):
            nursery.start_soon(one, index, clients)
    reports = []
    for index, done in enumerate(finished):
        assert done is not None
        try:
            reports.append(json.loads(done.stdout))
        except ValueError:
            tail = done.stderr.decode(errors="replace")[-2000:].strip()
            raise RuntimeError(
                f"load-generator process {index} exited {done.returncode}: {tail}"
            ) from None
    return reports


def merge_counts(
    reports: Sequence[dict[str, Any]], counted: Sequence[str], *, failed_field: str = "failed"
) -> dict[str, Any]:
    """Sum of the ``counted`` fields, failures (their total as ``failed_field``) and HTTP
    versions; latency percentiles over every sample; the longest run's seconds."""
    failures = Failures()
    latencies = Latencies()
    versions: Counter[str] = Counter()
    totals = {name: 0 for name in counted}
    for report in reports:
        for name in counted:
            totals[name] += int(report[name])
        failures.counts.update(report["failures"])
        for label, example in report["failure_examples"].items():
            failures.examples.setdefault(label, example)
        versions.update(report["http_versions"])
        latencies.samples.extend(report["latency_samples"])
    return {
        **totals,
        "seconds": max(float(report["seconds"]) for report in reports),
        "http_versions": dict(versions),
        failed_field: failures.total(),
        **failures.as_dict(),
        **latencies.summary(),
        "cut_at_time_limit": any(report["cut_at_time_limit"] for report in reports),
        "load_processes": len(reports),
    }


async def run_spread(
    script: Path,
    clients: int,
    seconds: float,
    *,
    url: str,
    protocol: Protocol,
    verify: ssl.SSLContext | bool,
    cafile: str | None,
    request_timeout: float,
    extra_arguments: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``script`` as worker processes sharing ``clients`` (:func:`client_shares`): the
    arguments every workload script takes, then ``extra_arguments``; their reports."""
    arguments = ["--url", url, "--seconds", repr(seconds), "--protocol", protocol]
    cafile = cafile_of(verify, cafile)
    if cafile is not None:
        arguments += ["--cafile", cafile]
    arguments += extra_arguments
    return await run_workers(script, arguments, client_shares(clients), seconds, request_timeout)


def fits_one_process(clients: int) -> bool:
    """True when ``clients`` run in the caller's own process."""
    return clients <= CLIENTS_PER_PROCESS
