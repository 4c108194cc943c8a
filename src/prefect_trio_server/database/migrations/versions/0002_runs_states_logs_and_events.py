"""Runs, states, logs and events: the tables the core orchestration API stores.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import prefect_trio_server.database.types
from prefect_trio_server.database.types import Timestamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _object_columns() -> list[sa.Column[object]]:
    """``id``, ``created``, ``updated``: the first columns of every table here."""
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created", Timestamp(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated", Timestamp(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:

    op.create_table(
        "event_resources",
        *_object_columns(),
        sa.Column(
            "occurred", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=False
        ),
        sa.Column("resource_id", sa.String(), nullable=False),
        sa.Column("resource_role", sa.String(), nullable=False),
        sa.Column(
            "resource",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_resources")),
    )
    with op.batch_alter_table("event_resources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_resources__event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_event_resources__occurred"), ["occurred"], unique=False
        )
        batch_op.create_index(
            "ix_event_resources__resource_id_occurred", ["resource_id", "occurred"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_event_resources__updated"), ["updated"], unique=False)

    op.create_table(
        "events",
        *_object_columns(),
        sa.Column(
            "occurred", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=False
        ),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(), nullable=False),
        sa.Column(
            "resource",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "related_resource_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "related",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "received", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=False
        ),
        sa.Column(
            "recorded", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=False
        ),
        sa.Column("follows", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events__event_occurred_id", ["event", "occurred", "id"], unique=False
        )
        batch_op.create_index(
            "ix_events__event_resource_id_occurred",
            ["event", "resource_id", "occurred"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_events__occurred"), ["occurred"], unique=False)
        batch_op.create_index("ix_events__occurred_id", ["occurred", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events__updated"), ["updated"], unique=False)

    op.create_table(
        "flow",
        *_object_columns(),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow")),
        sa.UniqueConstraint("name", name=op.f("uq_flow__name")),
    )
    with op.batch_alter_table("flow", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow__updated"), ["updated"], unique=False)

    op.create_table(
        "log",
        *_object_columns(),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("flow_run_id", sa.Uuid(), nullable=True),
        sa.Column("task_run_id", sa.Uuid(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "timestamp", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log")),
    )
    with op.batch_alter_table("log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log__flow_run_id"), ["flow_run_id"], unique=False)
        batch_op.create_index(
            "ix_log__flow_run_id_timestamp", ["flow_run_id", "timestamp"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_log__level"), ["level"], unique=False)
        batch_op.create_index(batch_op.f("ix_log__task_run_id"), ["task_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_log__timestamp"), ["timestamp"], unique=False)
        batch_op.create_index(batch_op.f("ix_log__updated"), ["updated"], unique=False)

    op.create_table(
        "flow_run",
        *_object_columns(),
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=True),
        sa.Column("deployment_version", sa.String(), nullable=True),
        sa.Column("work_queue_id", sa.Uuid(), nullable=True),
        sa.Column("work_queue_name", sa.String(), nullable=True),
        sa.Column("flow_version", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column(
            "parameters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "empirical_policy",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "created_by",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("infrastructure_pid", sa.String(), nullable=True),
        sa.Column(
            "job_variables",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("infrastructure_document_id", sa.Uuid(), nullable=True),
        sa.Column("parent_task_run_id", sa.Uuid(), nullable=True),
        sa.Column("auto_scheduled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("state_id", sa.Uuid(), nullable=True),
        sa.Column("state_type", sa.String(length=20), nullable=True),
        sa.Column("state_name", sa.String(), nullable=True),
        sa.Column(
            "state_timestamp",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            nullable=True,
        ),
        sa.Column("run_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "expected_start_time",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "next_scheduled_start_time",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "start_time", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=True
        ),
        sa.Column(
            "end_time", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=True
        ),
        sa.Column("total_run_time", sa.Float(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flow.id"], name=op.f("fk_flow_run__flow_id__flow"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_run")),
        sa.UniqueConstraint(
            "flow_id", "idempotency_key", name=op.f("uq_flow_run__flow_id_idempotency_key")
        ),
    )
    with op.batch_alter_table("flow_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_run__deployment_id"), ["deployment_id"], unique=False
        )
        batch_op.create_index(
            "ix_flow_run__end_time_desc", [sa.literal_column("end_time DESC")], unique=False
        )
        batch_op.create_index(
            "ix_flow_run__expected_start_time_desc",
            [sa.literal_column("expected_start_time DESC")],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_flow_run__flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_flow_run__name"), ["name"], unique=False)
        batch_op.create_index(
            "ix_flow_run__next_scheduled_start_time_asc",
            ["next_scheduled_start_time"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_flow_run__parent_task_run_id"), ["parent_task_run_id"], unique=False
        )
        batch_op.create_index(
            "ix_flow_run__scheduler",
            ["deployment_id", "auto_scheduled", "next_scheduled_start_time"],
            unique=False,
            sqlite_where=sa.text("state_type = 'SCHEDULED'"),
            postgresql_where=sa.text("state_type = 'SCHEDULED'"),
        )
        batch_op.create_index(
            "ix_flow_run__coalesce_start_time_expected_start_time",
            [sa.text("coalesce(start_time, expected_start_time)")],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_flow_run__start_time"), ["start_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_flow_run__state_name"), ["state_name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_flow_run__state_timestamp"), ["state_timestamp"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_flow_run__state_type"), ["state_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_flow_run__updated"), ["updated"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_flow_run__work_queue_id"), ["work_queue_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_flow_run__work_queue_name"), ["work_queue_name"], unique=False
        )

    op.create_table(
        "flow_run_input",
        *_object_columns(),
        sa.Column("flow_run_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_run.id"],
            name=op.f("fk_flow_run_input__flow_run_id__flow_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_run_input")),
        sa.UniqueConstraint("flow_run_id", "key", name=op.f("uq_flow_run_input__flow_run_id_key")),
    )
    with op.batch_alter_table("flow_run_input", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_run_input__updated"), ["updated"], unique=False)

    op.create_table(
        "flow_run_state",
        *_object_columns(),
        sa.Column("flow_run_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column(
            "timestamp", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=False
        ),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "state_details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("result_artifact_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_run.id"],
            name=op.f("fk_flow_run_state__flow_run_id__flow_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_run_state")),
        sa.UniqueConstraint(
            "flow_run_id", "timestamp", name=op.f("uq_flow_run_state__flow_run_id_timestamp")
        ),
    )
    with op.batch_alter_table("flow_run_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_run_state__name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_flow_run_state__result_artifact_id"),
            ["result_artifact_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_flow_run_state__type"), ["type"], unique=False)
        batch_op.create_index(batch_op.f("ix_flow_run_state__updated"), ["updated"], unique=False)

    op.create_table(
        "task_run",
        *_object_columns(),
        sa.Column("flow_run_id", sa.Uuid(), nullable=True),
        sa.Column("task_key", sa.String(), nullable=False),
        sa.Column("dynamic_key", sa.String(), nullable=False),
        sa.Column("cache_key", sa.String(), nullable=True),
        sa.Column(
            "cache_expiration",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            nullable=True,
        ),
        sa.Column("task_version", sa.String(), nullable=True),
        sa.Column("flow_run_run_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "empirical_policy",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "task_inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("state_id", sa.Uuid(), nullable=True),
        sa.Column("state_type", sa.String(length=20), nullable=True),
        sa.Column("state_name", sa.String(), nullable=True),
        sa.Column(
            "state_timestamp",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            nullable=True,
        ),
        sa.Column("run_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "expected_start_time",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "next_scheduled_start_time",
            prefect_trio_server.database.types.Timestamp(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "start_time", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=True
        ),
        sa.Column(
            "end_time", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=True
        ),
        sa.Column("total_run_time", sa.Float(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_run_id"],
            ["flow_run.id"],
            name=op.f("fk_task_run__flow_run_id__flow_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_run")),
        sa.UniqueConstraint(
            "flow_run_id",
            "task_key",
            "dynamic_key",
            name=op.f("uq_task_run__flow_run_id_task_key_dynamic_key"),
        ),
    )
    with op.batch_alter_table("task_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_run__end_time_desc", [sa.literal_column("end_time DESC")], unique=False
        )
        batch_op.create_index(
            "ix_task_run__expected_start_time_desc",
            [sa.literal_column("expected_start_time DESC")],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_task_run__flow_run_id"), ["flow_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_run__name"), ["name"], unique=False)
        batch_op.create_index(
            "ix_task_run__next_scheduled_start_time_asc",
            ["next_scheduled_start_time"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_task_run__start_time"), ["start_time"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_run__state_id"), ["state_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_run__state_name"), ["state_name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_task_run__state_timestamp"), ["state_timestamp"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_task_run__state_type"), ["state_type"], unique=False)
        batch_op.create_index(
            "ix_task_run__state_type_start_time", ["state_type", "start_time"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_task_run__updated"), ["updated"], unique=False)

    op.create_table(
        "task_run_state",
        *_object_columns(),
        sa.Column("task_run_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column(
            "timestamp", prefect_trio_server.database.types.Timestamp(timezone=True), nullable=False
        ),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "state_details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("result_artifact_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_run_id"],
            ["task_run.id"],
            name=op.f("fk_task_run_state__task_run_id__task_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_run_state")),
        sa.UniqueConstraint(
            "task_run_id", "timestamp", name=op.f("uq_task_run_state__task_run_id_timestamp")
        ),
    )
    with op.batch_alter_table("task_run_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_run_state__name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_task_run_state__result_artifact_id"),
            ["result_artifact_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_task_run_state__type"), ["type"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_run_state__updated"), ["updated"], unique=False)


def downgrade() -> None:
    for table in (
        "flow_run_input",
        "task_run_state",
        "flow_run_state",
        "task_run",
        "flow_run",
        "flow",
        "log",
        "events",
        "event_resources",
    ):
        op.drop_table(table)
