"""Flows, flow runs, task runs and their state histories."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    func,
)

from ..types import Timestamp
from .common import Json, metadata, object_columns


# Denormalised current state, kept on every run row for filtering and sorting.
def _state_columns() -> list[Column[object]]:
    return [
        Column("state_type", String(20), index=True),
        Column("state_name", String, index=True),
        Column("state_timestamp", Timestamp, index=True),
        Column("run_count", Integer, nullable=False, default=0, server_default="0"),
        Column("expected_start_time", Timestamp),
        Column("next_scheduled_start_time", Timestamp),
        Column("start_time", Timestamp, index=True),
        Column("end_time", Timestamp),
        Column("total_run_time", Float, nullable=False, default=0.0, server_default="0"),
    ]


flow = Table(
    "flow",
    metadata,
    *object_columns(),
    Column("name", String, nullable=False, unique=True),
    Column("tags", Json, nullable=False, default=list, server_default="[]"),
    Column("labels", Json),
)

flow_run = Table(
    "flow_run",
    metadata,
    *object_columns(),
    Column("flow_id", Uuid, ForeignKey("flow.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("deployment_id", Uuid, index=True),
    Column("deployment_version", String),
    Column("work_queue_id", Uuid, index=True),
    Column("work_queue_name", String, index=True),
    Column("flow_version", String),
    Column("name", String, nullable=False, index=True),
    Column("parameters", Json, nullable=False, default=dict, server_default="{}"),
    Column("idempotency_key", String),
    Column("context", Json, nullable=False, default=dict, server_default="{}"),
    Column("empirical_policy", Json, nullable=False, default=dict, server_default="{}"),
    Column("tags", Json, nullable=False, default=list, server_default="[]"),
    Column("labels", Json),
    Column("created_by", Json),
    Column("infrastructure_pid", String),
    Column("job_variables", Json),
    Column("infrastructure_document_id", Uuid),
    Column("parent_task_run_id", Uuid, index=True),
    Column("auto_scheduled", Boolean, nullable=False, default=False, server_default=false()),
    Column("state_id", Uuid),
    *_state_columns(),
    UniqueConstraint("flow_id", "idempotency_key"),
)
Index("ix_flow_run__end_time_desc", flow_run.c.end_time.desc())
Index("ix_flow_run__expected_start_time_desc", flow_run.c.expected_start_time.desc())
Index("ix_flow_run__next_scheduled_start_time_asc", flow_run.c.next_scheduled_start_time)
Index(
    "ix_flow_run__coalesce_start_time_expected_start_time",
    func.coalesce(flow_run.c.start_time, flow_run.c.expected_start_time),
)
# Partial on both databases: migration 0002 creates it with ``postgresql_where`` too. Not
# named here: SQLAlchemy checks a ``postgresql_*`` argument by importing the PostgreSQL
# dialect (30 ms of every SQLite start), and Alembic's comparison ignores the predicate.
Index(
    "ix_flow_run__scheduler",
    flow_run.c.deployment_id,
    flow_run.c.auto_scheduled,
    flow_run.c.next_scheduled_start_time,
    sqlite_where=flow_run.c.state_type == "SCHEDULED",
)


def _state_history(run: str) -> Table:
    """The state history of a run table: one row per state a run of ``run`` entered."""
    run_id = f"{run}_id"
    return Table(
        f"{run}_state",
        metadata,
        *object_columns(index_updated=False),
        Column(run_id, Uuid, ForeignKey(f"{run}.id", ondelete="CASCADE"), nullable=False),
        Column("type", String(20), nullable=False),
        Column("timestamp", Timestamp, nullable=False),
        Column("name", String, nullable=False),
        Column("message", Text),
        Column("state_details", Json, nullable=False, default=dict, server_default="{}"),
        Column("data", Json),
        Column("result_artifact_id", Uuid),
        UniqueConstraint(run_id, "timestamp"),
    )


flow_run_state = _state_history("flow_run")

task_run = Table(
    "task_run",
    metadata,
    *object_columns(),
    Column("flow_run_id", Uuid, ForeignKey("flow_run.id", ondelete="CASCADE"), index=True),
    Column("task_key", String, nullable=False),
    Column("dynamic_key", String, nullable=False),
    Column("cache_key", String),
    Column("cache_expiration", Timestamp),
    Column("task_version", String),
    Column("flow_run_run_count", Integer, nullable=False, default=0, server_default="0"),
    Column("empirical_policy", Json, nullable=False, default=dict, server_default="{}"),
    Column("task_inputs", Json, nullable=False, default=dict, server_default="{}"),
    Column("tags", Json, nullable=False, default=list, server_default="[]"),
    Column("labels", Json),
    Column("name", String, nullable=False, index=True),
    # No foreign key: the recorder writes states and runs in either order.
    Column("state_id", Uuid, index=True),
    *_state_columns(),
    UniqueConstraint("flow_run_id", "task_key", "dynamic_key"),
    Index("ix_task_run__state_type_start_time", "state_type", "start_time"),
)
Index("ix_task_run__end_time_desc", task_run.c.end_time.desc())
Index("ix_task_run__expected_start_time_desc", task_run.c.expected_start_time.desc())
Index("ix_task_run__next_scheduled_start_time_asc", task_run.c.next_scheduled_start_time)

task_run_state = _state_history("task_run")

flow_run_input = Table(
    "flow_run_input",
    metadata,
    *object_columns(),
    Column("flow_run_id", Uuid, ForeignKey("flow_run.id", ondelete="CASCADE"), nullable=False),
    Column("key", String, nullable=False),
    Column("value", Text, nullable=False),
    Column("sender", String),
    UniqueConstraint("flow_run_id", "key"),
)
