"""`hypercorn prefect_trio_server:app --worker-class trio`, as a user runs it."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from processes import free_port, reaped, wait_healthy

pytestmark = pytest.mark.slow

HYPERCORN = shutil.which("hypercorn", path=os.path.dirname(sys.executable)) or "hypercorn"


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
    with reaped(process):
        wait_healthy(f"http://127.0.0.1:{insecure}/api/health", process)
        yield secure, insecure
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


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
