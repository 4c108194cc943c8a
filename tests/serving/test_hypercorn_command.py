"""`hypercorn prefect_trio_server:app --worker-class trio`, as a user runs it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

pytestmark = pytest.mark.slow

HYPERCORN = shutil.which("hypercorn", path=os.path.dirname(sys.executable)) or "hypercorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(client: httpx.Client, url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"hypercorn exited with {process.returncode}")
        try:
            if client.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
    raise AssertionError(f"{url} never answered")


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return certfile, keyfile, context


@pytest.fixture
def hypercorn(tmp_path: Path, tls: tuple[Path, Path, ssl.SSLContext]) -> Iterator[tuple[int, int]]:
    certfile, keyfile, _ = tls
    secure, insecure = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "home")
    process = subprocess.Popen(
        [
            HYPERCORN,
            "prefect_trio_server:app",
            "--worker-class",
            "trio",
            "--certfile",
            str(certfile),
            "--keyfile",
            str(keyfile),
            "--bind",
            f"127.0.0.1:{secure}",
            "--insecure-bind",
            f"127.0.0.1:{insecure}",
        ],
        env=env,
        cwd=tmp_path,
    )
    try:
        with httpx.Client() as client:
            wait_until_answering(client, f"http://127.0.0.1:{insecure}/api/health", process)
        yield secure, insecure
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_http2_over_tls_and_h2c_on_the_insecure_bind(
    hypercorn: tuple[int, int], tls: tuple[Path, Path, ssl.SSLContext]
) -> None:
    secure, insecure = hypercorn
    with httpx.Client(http2=True, verify=tls[2]) as client:
        response = client.get(f"https://127.0.0.1:{secure}/api/health")
        assert (response.http_version, response.json()) == ("HTTP/2", True)
        version = client.get(f"https://127.0.0.1:{secure}/api/admin/version")
        assert version.json().split(".")[0] == "3"
    with httpx.Client(http1=False, http2=True) as h2c:
        response = h2c.get(f"http://127.0.0.1:{insecure}/api/ready")
        assert (response.http_version, response.json()) == ("HTTP/2", {"message": "OK"})
    # The UI is served at / by the module-level app.
    with httpx.Client() as client:
        page = client.get(f"http://127.0.0.1:{insecure}/")
        assert page.status_code == 200
        assert "prefect-trio-server" in page.text
