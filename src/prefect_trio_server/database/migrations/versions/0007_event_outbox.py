"""The event outbox: server events staged in the transaction of the change they describe.

A state change stores its event as one row here (no index but the key); a background mover
stores the staged events in ``events`` and ``event_resources`` in batches
(``models/event_outbox.py``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import prefect_trio_server.database.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column(
            "received",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_event_outbox")),
    )


def downgrade() -> None:
    # Events still staged here are dropped with the table: stop the server (its last act is
    # to store what it staged) before downgrading.
    op.drop_table("event_outbox")
