"""The schema, as SQLAlchemy Core tables; the migrations in ``migrations/`` create them.

Every table is registered on ``metadata``; a test checks that the migrations and these
definitions agree (Alembic's autogenerate sees no difference).
"""

from .common import metadata
from .configuration import configuration
from .csrf import csrf_token
from .logs_events import event_outbox, event_resources, events, log
from .runs import flow, flow_run, flow_run_input, flow_run_state, task_run, task_run_state

__all__ = [
    "configuration",
    "csrf_token",
    "event_outbox",
    "event_resources",
    "events",
    "flow",
    "flow_run",
    "flow_run_input",
    "flow_run_state",
    "log",
    "metadata",
    "task_run",
    "task_run_state",
]
