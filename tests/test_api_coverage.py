"""Our OpenAPI against Prefect 3.9.1's: the core API is covered, the coverage page is current."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[1]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_coverage", ROOT / "scripts/api_coverage.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["api_coverage"] = module
    spec.loader.exec_module(module)
    return module


coverage = _load_script()


@pytest.fixture(scope="module")
def operations() -> list[object]:
    reference = coverage.DEFAULT_REFERENCE
    if not reference.exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the reference OpenAPI file is missing: {reference}")
        pytest.skip(f"the reference OpenAPI file is missing: {reference}")
    result: list[object] = coverage.compare(
        json.loads(reference.read_text()), coverage.our_openapi()
    )
    return result


def test_the_core_api_is_covered(operations: list[object]) -> None:
    core = [op for op in operations if coverage.is_core(op)]
    assert len(core) == 62
    uncovered = [f"{op.method} {op.path} {op.missing_fields}" for op in core if not op.covered]
    assert uncovered == []


def test_the_coverage_page_is_current(operations: list[object]) -> None:
    page = (ROOT / "docs/api-coverage.md").read_text()
    assert page.strip() == coverage.render(operations).strip(), (
        "docs/api-coverage.md is stale: run `make docs`"
    )
