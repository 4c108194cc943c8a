"""Baseline: the CSRF token store.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from prefect_trio_server.database.types import Timestamp

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "csrf_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created", Timestamp(), nullable=False),
        sa.Column("updated", Timestamp(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("expiration", Timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_csrf_token"),
        sa.UniqueConstraint("client", name="uq_csrf_token__client"),
    )


def downgrade() -> None:
    op.drop_table("csrf_token")
