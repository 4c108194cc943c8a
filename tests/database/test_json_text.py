"""JSON columns hold standard JSON only."""

from __future__ import annotations

import json
import math

from prefect_trio_server.database.json_text import json_text


def test_finite_values_are_written_as_the_standard_library_writes_them():
    value = {"a": [1, 2.5, None, True], "é": "ü", "nested": {"k": "v"}}
    assert json_text(value) == json.dumps(value)


def test_non_finite_numbers_become_null_anywhere():
    value = {"nan": math.nan, "deep": [{"inf": math.inf}, -math.inf, 1.0], "text": "é"}
    written = json_text(value)
    assert json.loads(written) == {"nan": None, "deep": [{"inf": None}, None, 1.0], "text": "é"}
    assert "NaN" not in written
    assert "Infinity" not in written
    assert "\\u00e9" in written
