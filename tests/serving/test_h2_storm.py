"""h2load storms over h2c against the real server leave it alive and healthy."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from processes import free_port, reaped, start, wait_healthy

pytestmark = pytest.mark.slow

STORM = Path(__file__).parents[2] / "benchmarks" / "h2_storm.sh"


@pytest.fixture
def h2load() -> str:
    found = shutil.which("h2load")
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("h2load is not installed (nghttp2-client), and CI must run this test")
        pytest.skip("h2load is not installed (apt-get install nghttp2-client)")
    return found


def test_storms_with_dropped_connections_and_early_answers(h2load: str, tmp_path: Path) -> None:
    port = free_port()
    # A small body limit makes uploads get their 413 before the body is read.
    launched = start(
        tmp_path,
        "start",
        "--port",
        str(port),
        PREFECT_TRIO_SERVER_MAX_REQUEST_BODY_BYTES="1024",
    )
    base = f"http://127.0.0.1:{port}"
    with reaped(launched) as server:
        wait_healthy(f"{base}/api/health", server)
        storm = subprocess.run(
            [
                "bash",
                str(STORM),
                "-r",
                "2",
                "-n",
                "4000",
                "-D",
                "2",
                "-t",
                "120",
                "-u",
                "/api/hello",
                "-b",
                "200000",
                "-p",
                str(server.pid),
                base,
                "/api/health",
                "/api/admin/version",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert storm.returncode == 0, storm.stdout + storm.stderr
        assert server.poll() is None
        with httpx.Client(http1=False, http2=True) as client:
            response = client.get(f"{base}/api/ready")
            assert (response.http_version, response.status_code) == ("HTTP/2", 200)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
