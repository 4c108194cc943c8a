"""Logs, events with the resources they relate to, and the outbox of staged events."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, SmallInteger, String, Table, Text, Uuid

from ..types import Timestamp
from .common import Json, metadata, object_columns

log = Table(
    "log",
    metadata,
    *object_columns(index_updated=False),
    Column("name", String, nullable=False),
    Column("level", SmallInteger, nullable=False, index=True),
    # No foreign keys: logs may arrive before, or outlive, the runs they name.
    Column("flow_run_id", Uuid, index=True),
    Column("task_run_id", Uuid, index=True),
    Column("message", Text, nullable=False),
    Column("timestamp", Timestamp, nullable=False),
    # Pages of logs sort by (timestamp, id): ties are broken by the index, not by a sort.
    Index("ix_log__timestamp_id", "timestamp", "id"),
    Index("ix_log__flow_run_id_timestamp", "flow_run_id", "timestamp"),
)

events = Table(
    "events",
    metadata,
    *object_columns(index_updated=False),
    # (occurred, id) below serves "by time" as well.
    Column("occurred", Timestamp, nullable=False),
    Column("event", String, nullable=False),
    Column("resource_id", String, nullable=False),
    Column("resource", Json, nullable=False),
    Column("related_resource_ids", Json, nullable=False, default=list, server_default="[]"),
    Column("related", Json, nullable=False, default=list, server_default="[]"),
    Column("payload", Json, nullable=False, default=dict, server_default="{}"),
    Column("received", Timestamp, nullable=False),
    Column("recorded", Timestamp, nullable=False),
    Column("follows", Uuid),
    Index("ix_events__occurred_id", "occurred", "id"),
    Index("ix_events__event_occurred_id", "event", "occurred", "id"),
    Index("ix_events__event_resource_id_occurred", "event", "resource_id", "occurred"),
)

event_resources = Table(
    "event_resources",
    metadata,
    *object_columns(index_updated=False),
    Column("occurred", Timestamp, nullable=False, index=True),
    Column("resource_id", String, nullable=False),
    Column("resource_role", String, nullable=False),
    Column("resource", Json, nullable=False),
    Column("event_id", Uuid, nullable=False, index=True),
    Index("ix_event_resources__resource_id_occurred", "resource_id", "occurred"),
)

event_outbox = Table(
    "event_outbox",
    metadata,
    # The order events were staged in. On SQLite the rowid itself (INTEGER PRIMARY KEY).
    Column(
        "seq",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    # The event as JSON text, exactly as ``models.events.record_server_event`` takes it.
    Column("event", Text, nullable=False),
    Column("received", Timestamp, nullable=False),
)
