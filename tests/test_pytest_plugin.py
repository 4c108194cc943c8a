"""The pytest plugin, loaded through its entry point in a separate pytest run."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import httpx

async def test_in_process(prefect_trio_client, prefect_trio_settings, tmp_path):
    assert (await prefect_trio_client.get("/health")).json() is True
    assert (await prefect_trio_client.get("/ready")).status_code == 200
    assert prefect_trio_settings.resolved_home.is_relative_to(tmp_path)
    assert (prefect_trio_settings.resolved_home / "prefect.db").exists()

def test_subprocess_server(prefect_trio_server_url):
    assert httpx.get(prefect_trio_server_url + "/health").json() is True
"""


@pytest.mark.slow
def test_fixtures_work_in_a_user_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
