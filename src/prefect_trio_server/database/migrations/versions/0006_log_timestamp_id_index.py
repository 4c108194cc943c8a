"""Logs sorted by time: the index holds the id that breaks ties.

Log pages sort by ``(timestamp, id)``. With an index on ``timestamp`` alone, every log that
shares the page's last timestamp is read and sorted by id before the page is cut, and logs
sent in one batch often share their timestamp. ``(timestamp, id)`` gives the order as it is
stored.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_log__timestamp_id", "log", ["timestamp", "id"], unique=False)
    op.drop_index("ix_log__timestamp", table_name="log")


def downgrade() -> None:
    op.create_index("ix_log__timestamp", "log", ["timestamp"], unique=False)
    op.drop_index("ix_log__timestamp_id", table_name="log")
