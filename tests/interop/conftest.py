"""Interop: the real Prefect client, from PyPI, in its own virtual environment.

The environment (``.venv-interop`` at the repository root, or
``$PREFECT_TRIO_SERVER_INTEROP_VENV``) is created once and reused: Prefect's pins never
touch our dependencies, and nothing in ``src/`` can import Prefect. Each test starts our
server with ``SubprocessASGIServer`` (on SQLite and on PostgreSQL), runs a script with the
client against it, and checks what was recorded through our REST API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop_client import Client
from prefect_trio_server.settings import Settings
from prefect_trio_server.subprocess_server import SubprocessASGIServer

PREFECT_REQUIREMENT = "prefect==3.9.1"
ROOT = Path(__file__).parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _venv_path() -> Path:
    configured = os.environ.get("PREFECT_TRIO_SERVER_INTEROP_VENV")
    return Path(configured) if configured else ROOT / ".venv-interop"


@pytest.fixture(scope="session")
def prefect_python() -> Path:
    """A Python interpreter with the real Prefect client installed."""
    venv = _venv_path()
    python = venv / "bin" / "python"
    marker = venv / f".installed-{PREFECT_REQUIREMENT}"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", PREFECT_REQUIREMENT],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if install.returncode != 0:
            message = f"cannot install {PREFECT_REQUIREMENT}: {install.stderr[-2000:]}"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        marker.write_text("")
    return python


@pytest.fixture
def prefect_client(
    prefect_python: Path, prefect_trio_settings: Settings, tmp_path: Path
) -> Iterator[Client]:
    """The Prefect client pointed at a fresh server on each database."""
    server = SubprocessASGIServer(port=None, settings=prefect_trio_settings)
    server.start()
    try:
        yield Client(python=prefect_python, api_url=server.api_url, home=tmp_path / "client")
    finally:
        server.stop()
