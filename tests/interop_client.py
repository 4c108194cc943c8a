"""The Prefect client in a subprocess, pointed at one of our servers."""

from __future__ import annotations

import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Client:
    """Runs scripts with the Prefect client against one of our servers."""

    python: Path
    api_url: str
    home: Path

    def run(self, script: str, *, expect_success: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            {
                "PREFECT_API_URL": self.api_url,
                "PREFECT_HOME": str(self.home),
                "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false",
                "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
                "COLUMNS": "250",
            }
        )
        result = subprocess.run(
            [str(self.python), "-c", textwrap.dedent(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if expect_success:
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
        return result

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30)
