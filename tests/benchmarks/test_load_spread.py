"""The benchmark harness spreads many clients over load-generator processes and adds up
what they measured."""

from __future__ import annotations

import ssl
import sys
import time
from pathlib import Path

import pytest
import trio

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from spread import cafile_of, client_shares, merge_counts, run_workers, wait_for_start


def test_client_shares_hold_at_most_sixteen_clients_each_and_are_even() -> None:
    assert client_shares(1) == [1]
    assert client_shares(16) == [16]
    assert client_shares(17) == [9, 8]
    assert client_shares(64) == [16, 16, 16, 16]
    assert client_shares(65) == [13, 13, 13, 13, 13]


def test_no_clients_is_refused() -> None:
    with pytest.raises(ValueError, match="clients must be positive"):
        client_shares(0)


def test_an_ssl_context_alone_cannot_reach_worker_processes() -> None:
    context = ssl.create_default_context()
    with pytest.raises(ValueError, match="cafile"):
        cafile_of(context, None)
    assert cafile_of(context, "/ca.pem") == "/ca.pem"
    assert cafile_of(True, None) is None


def _report(count: int, samples: list[float], failures: dict[str, int], seconds: float) -> dict:
    return {
        "lifecycles": count,
        "requests": count * 4,
        "seconds": seconds,
        "http_versions": {"HTTP/1.1": count * 4},
        "failures": failures,
        "failure_examples": {label: f"example of {label}" for label in failures},
        "latency_samples": samples,
        "cut_at_time_limit": False,
    }


def test_merged_counts_are_sums_and_percentiles_are_over_every_sample() -> None:
    fast = _report(10, [0.001] * 99, {}, 5.0)
    slow = _report(3, [1.0] * 99 + [2.0], {"create: HTTP 503": 2}, 5.5)
    merged = merge_counts([fast, slow], ("lifecycles", "requests"))
    assert merged["lifecycles"] == 13
    assert merged["requests"] == 52
    assert merged["seconds"] == 5.5
    assert merged["http_versions"] == {"HTTP/1.1": 52}
    assert merged["failed"] == 2
    assert merged["failures"] == {"create: HTTP 503": 2}
    assert merged["failure_examples"] == {"create: HTTP 503": "example of create: HTTP 503"}
    assert merged["p50_ms"] == 1000.0  # the 100th of 199 samples is a slow one
    assert merged["p99_ms"] == 1000.0
    assert merged["load_processes"] == 2


async def test_workers_get_one_start_moment_ahead_and_report_in_order(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(
        "import json, sys\n"
        "args = sys.argv[1:]\n"
        "start_at = float(args[args.index('--start-at') + 1])\n"
        "clients = int(args[args.index('--clients') + 1])\n"
        "assert '--worker' in args and args[:2] == ['--url', 'U']\n"
        "print(json.dumps({'clients': clients, 'start_at': start_at}))\n"
    )
    before = time.time()
    reports = await run_workers(script, ["--url", "U"], [9, 8], 1.0, 1.0)
    assert [report["clients"] for report in reports] == [9, 8]
    assert reports[0]["start_at"] == reports[1]["start_at"] > before


async def test_a_worker_waits_for_the_start_moment(autojump_clock: trio.abc.Clock) -> None:
    began = trio.current_time()
    await wait_for_start(time.time() + 100)
    assert 99 <= trio.current_time() - began <= 101
    began = trio.current_time()
    await wait_for_start(time.time() - 5)  # a moment already past: no wait
    await wait_for_start(None)
    assert trio.current_time() == began


async def test_a_worker_that_prints_no_report_fails_the_run_with_its_error(
    tmp_path: Path,
) -> None:
    script = tmp_path / "worker.py"
    script.write_text("import sys\nsys.exit('cannot reach the server')\n")
    with pytest.raises(RuntimeError, match="exited 1: cannot reach the server"):
        await run_workers(script, [], [1, 1], 1.0, 1.0)
