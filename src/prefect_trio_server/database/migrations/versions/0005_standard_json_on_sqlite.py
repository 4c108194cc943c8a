"""JSON columns on SQLite hold standard JSON only.

Earlier versions stored ``NaN``, ``Infinity`` and ``-Infinity`` as Python's ``json`` writes
them when a request body held them. They are not JSON: SQLite's JSON functions, which now
write the list pages, fail on them. Such values become ``null``, which is what the API
answered for them. PostgreSQL's ``jsonb`` never accepted them: nothing to do there.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import json
from typing import Any

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The JSON columns at this revision.
JSON_COLUMNS = {
    "configuration": ("value",),
    "event_resources": ("resource",),
    "events": ("resource", "related_resource_ids", "related", "payload"),
    "flow": ("tags", "labels"),
    "flow_run": (
        "parameters",
        "context",
        "empirical_policy",
        "tags",
        "labels",
        "created_by",
        "job_variables",
    ),
    "flow_run_state": ("state_details", "data"),
    "task_run": ("empirical_policy", "task_inputs", "tags", "labels"),
    "task_run_state": ("state_details", "data"),
}


def _null(_constant: str) -> None:
    return None


def _standard(stored: str) -> str | None:
    """``stored`` with its non-finite numbers as null; None when it is not JSON at all."""
    try:
        value: Any = json.loads(stored, parse_constant=_null)
    except ValueError:
        return None
    return json.dumps(value)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, columns in JSON_COLUMNS.items():
        for column in columns:
            invalid = bind.exec_driver_sql(
                f'SELECT rowid, "{column}" FROM "{table}" '
                f'WHERE "{column}" IS NOT NULL AND NOT json_valid("{column}")'
            ).fetchall()
            for rowid, stored in invalid:
                standard = _standard(stored)
                if standard is not None:
                    bind.exec_driver_sql(
                        f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', (standard, rowid)
                    )


def downgrade() -> None:
    """Nothing to undo: the values were never valid JSON."""
