"""Fewer indexes on the tables every state change writes to.

Each index costs each insert a page write (and the WAL and its checkpoint copy that page
again). None of these serves a query: ``updated`` on states, events, event resources and
logs; ``type``, ``name`` and ``result_artifact_id`` on state histories (runs keep their
current state's type and name, indexed, on the run row); ``occurred`` alone on events,
which ``(occurred, id)`` covers.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, index name, columns)
DROPPED = (
    ("flow_run_state", "ix_flow_run_state__updated", ["updated"]),
    ("flow_run_state", "ix_flow_run_state__type", ["type"]),
    ("flow_run_state", "ix_flow_run_state__name", ["name"]),
    ("flow_run_state", "ix_flow_run_state__result_artifact_id", ["result_artifact_id"]),
    ("task_run_state", "ix_task_run_state__updated", ["updated"]),
    ("task_run_state", "ix_task_run_state__type", ["type"]),
    ("task_run_state", "ix_task_run_state__name", ["name"]),
    ("task_run_state", "ix_task_run_state__result_artifact_id", ["result_artifact_id"]),
    ("events", "ix_events__updated", ["updated"]),
    ("events", "ix_events__occurred", ["occurred"]),
    ("event_resources", "ix_event_resources__updated", ["updated"]),
    ("log", "ix_log__updated", ["updated"]),
)


def upgrade() -> None:
    for table, name, _columns in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, columns in DROPPED:
        op.create_index(name, table, columns, unique=False)
