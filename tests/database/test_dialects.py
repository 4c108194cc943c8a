"""JSON columns are JSONB on PostgreSQL, and SQLite never loads PostgreSQL's dialect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from prefect_trio_server.database.tables import flow_run

# Start (migrating a new database), serve a few requests, list the PostgreSQL modules loaded.
SERVE_ON_SQLITE = """
import sys

import httpx
import trio

from prefect_trio_server.cli import preflight
from prefect_trio_server.server import create_app
from prefect_trio_server.settings import Settings


async def main():
    settings = Settings()
    preflight(settings)
    app = create_app(settings, final=True)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/api/health")).status_code == 200
            flow = await client.post("/api/flows/", json={"name": "f"})
            run = {"flow_id": flow.json()["id"], "tags": ["a"]}
            assert (await client.post("/api/flow_runs/", json=run)).status_code == 201
            tagged = {"flow_runs": {"tags": {"all_": ["a"]}}}
            found = await client.post("/api/flow_runs/filter", json=tagged)
            assert len(found.json()) == 1, found.text


trio.run(main)
print(sorted(name for name in sys.modules if "dialects.postgresql" in name))
"""


def test_serving_sqlite_does_not_import_the_postgresql_dialect(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path), PREFECT_UI_ENABLED="false")
    result = subprocess.run(
        [sys.executable, "-c", SERVE_ON_SQLITE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_json_columns_are_jsonb_on_postgresql_and_json_on_sqlite():
    on_postgresql = str(CreateTable(flow_run).compile(dialect=postgresql.dialect()))
    on_sqlite = str(CreateTable(flow_run).compile(dialect=sqlite.dialect()))
    assert "\ttags JSONB " in on_postgresql
    assert "\ttags JSON " in on_sqlite
