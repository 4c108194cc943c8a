"""`prefect-trio-server start` as a user runs it: real processes, signals, exit codes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from processes import free_port, reaped, start, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    with reaped(start(tmp_path, "start", "--port", str(port))) as process:
        url = f"http://127.0.0.1:{port}/api"
        wait_healthy(f"{url}/health", process)
        yield process, url


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_start_serves_then_exits_cleanly_on_signal(running, sig: signal.Signals) -> None:
    process, url = running
    assert httpx.get(f"{url}/ready").json() == {"message": "OK"}
    process.send_signal(sig)
    assert process.wait(timeout=30) == 0


def test_importing_the_command_line_loads_nothing_heavy() -> None:
    # What loads later loads with the collector in its start-up mode (serving/startup_gc.py).
    heavy = ("pydantic", "prefect_trio_server.settings", "sqlalchemy", "fastapi", "alembic")
    code = f"import sys, prefect_trio_server.cli; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "prefect_trio_server", "version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "prefect-trio-server" in out.stdout
    assert "3." in out.stdout


def expect_one_line_error(process: subprocess.Popen[str], *needles: str) -> str:
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start(tmp_path, "start", "--port", str(port))
        expect_one_line_error(process, str(port), "PREFECT_SERVER_API_PORT")


def test_unwritable_home(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    process = start(tmp_path, "start", "--port", str(free_port()), PREFECT_HOME=str(blocker / "x"))
    expect_one_line_error(process, "PREFECT_HOME")


def test_unreachable_postgres(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://u@127.0.0.1:{free_port()}/db"
    process = start(
        tmp_path,
        "start",
        "--port",
        str(free_port()),
        PREFECT_API_DATABASE_CONNECTION_URL=url,
        PREFECT_API_DATABASE_TIMEOUT="2",
    )
    expect_one_line_error(process, "PREFECT_API_DATABASE_CONNECTION_URL")


def test_bad_tls_file(tmp_path: Path) -> None:
    junk = tmp_path / "cert.pem"
    junk.write_text("not a certificate")
    process = start(
        tmp_path,
        "start",
        "--port",
        str(free_port()),
        PREFECT_TRIO_SERVER_TLS_CERTFILE=str(junk),
        PREFECT_TRIO_SERVER_TLS_KEYFILE=str(junk),
    )
    expect_one_line_error(process, "PREFECT_TRIO_SERVER_TLS_CERTFILE")


def test_missing_tls_key(tmp_path: Path) -> None:
    junk = tmp_path / "cert.pem"
    junk.write_text("x")
    process = start(
        tmp_path, "start", "--port", str(free_port()), PREFECT_TRIO_SERVER_TLS_CERTFILE=str(junk)
    )
    expect_one_line_error(process, "PREFECT_TRIO_SERVER_TLS_KEYFILE")


def test_invalid_setting_value(tmp_path: Path) -> None:
    process = start(tmp_path, "start", PREFECT_SERVER_API_PORT="lots")
    expect_one_line_error(process, "PREFECT_SERVER_API_PORT")


def test_several_workers_serve_and_stop_cleanly(tmp_path: Path) -> None:
    port = free_port()
    with reaped(start(tmp_path, "start", "--port", str(port), "--workers", "2")) as process:
        wait_healthy(f"http://127.0.0.1:{port}/api/health", process)
        with httpx.Client() as client:
            for _ in range(10):
                assert client.get(f"http://127.0.0.1:{port}/api/ready").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_access_log_when_enabled(tmp_path: Path, workers: str) -> None:
    port = free_port()
    with reaped(
        start(
            tmp_path,
            "start",
            "--port",
            str(port),
            "--workers",
            workers,
            PREFECT_TRIO_SERVER_ACCESS_LOG="true",
        )
    ) as process:
        wait_healthy(f"http://127.0.0.1:{port}/api/health", process)
        httpx.get(f"http://127.0.0.1:{port}/api/hello")
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert "GET /api/hello" in stdout + stderr
