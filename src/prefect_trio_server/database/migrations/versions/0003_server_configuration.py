"""Server configuration: one JSON value per key (the default result storage).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import prefect_trio_server.database.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "configuration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configuration")),
        sa.UniqueConstraint("key", name=op.f("uq_configuration__key")),
    )
    with op.batch_alter_table("configuration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_configuration__updated"), ["updated"], unique=False)


def downgrade() -> None:
    op.drop_table("configuration")
