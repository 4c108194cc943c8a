"""Helpers for tests that run the server as a real process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_HOME": str(tmp_path / "home"), "PREFECT_UI_ENABLED": "false"})
    env.update(extra)
    return env


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "prefect_trio_server", *args],
        env=environment(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_healthy(
    url: str,
    process: subprocess.Popen[Any],
    deadline: float = 30,
    client: httpx.Client | None = None,
) -> None:
    """Poll ``url`` until it answers 200 (or the process dies, or the deadline passes)."""
    get = client.get if client is not None else httpx.get
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            if get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        # Between polls, watch for the process dying (bounded by the deadline).
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
    raise AssertionError(f"{url} never became healthy")


@contextlib.contextmanager
def reaped(process: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """Yield ``process``; whatever happens, leave no process behind."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
