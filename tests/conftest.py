"""Shared fixtures: settings per database, and the session's PostgreSQL cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_cluster import Cluster, find_postgres_bin, running_cluster
from prefect_trio_server.app import cache
from prefect_trio_server.settings import Settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        if IN_CI:
            pytest.fail("PostgreSQL is not installed, and CI must run the PostgreSQL tests")
        pytest.skip("PostgreSQL is not installed (initdb/pg_ctl not found)")
    with running_cluster(bin_dir) as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A fresh PostgreSQL database, migrated; dropped after the test."""
    url = postgres_cluster.new_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def prefect_trio_settings(
    tmp_path: Path, database_kind: str, request: pytest.FixtureRequest
) -> Settings:
    """Settings for a private server, on each database in turn."""
    overrides: dict[str, object] = {}
    if database_kind == "postgres":
        overrides["database_connection_url"] = request.getfixturevalue("postgres_url")
    return Settings(home=tmp_path / "home", ui_enabled=False, **overrides)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _fresh_app_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
