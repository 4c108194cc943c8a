"""How JSON columns are written: standard JSON only.

Python's ``json`` reads and writes ``NaN`` and ``Infinity``, which are not JSON: PostgreSQL
refuses them in ``jsonb`` and SQLite's JSON functions (which write list pages, see
:mod:`.json_rows`) fail on them. Such numbers can reach us in a request body (FastAPI parses
it with ``json.loads``); they are stored as ``null``, which is also what the API answers
for them (pydantic writes non-finite floats as ``null``).
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core


def json_text(value: Any) -> str:
    """``value`` as standard JSON text, non-finite numbers as ``null``."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        # Rare: rewrite through pydantic-core, which writes them as null, keeping the
        # standard library's text otherwise (ASCII, its separators).
        finite = json.loads(pydantic_core.to_json(value, inf_nan_mode="null"))
        return json.dumps(finite, allow_nan=False)


__all__ = ["json_text"]
