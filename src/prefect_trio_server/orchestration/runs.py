"""Run snapshots: the facts about a flow or task run that the rules read and update.

Each snapshot is a frozen dataclass; a decision returns a new snapshot plus the changed
fields. Facts that need a database (a deployment's concurrency slots, a task's cache
entry) are not looked up by the rules: the use-case layer precomputes them and puts them on
the snapshot (``FlowRunSnapshot.facts`` / ``TaskRunSnapshot.flow_run`` are the pattern), so a
rule stays a pure function of its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from .states import StateType

RetryType = Literal["in_process", "reschedule"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSnapshot:
    """Fields common to flow and task runs (the ones the global transforms maintain)."""

    id: UUID
    run_count: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: timedelta = timedelta(0)
    expected_start_time: datetime | None = None
    next_scheduled_start_time: datetime | None = None
    state_type: StateType | None = None
    state_name: str | None = None
    state_timestamp: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRunPolicy:
    """A flow run's ``empirical_policy`` (``max_retries``/``retry_delay_seconds`` are the
    deprecated aliases the mapping layer folds into these)."""

    retries: int | None = None
    retry_delay: float | None = None
    pause_keys: frozenset[str] = frozenset()
    resuming: bool = False
    retry_type: RetryType | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRunSnapshot(RunSnapshot):
    """What the flow rules read from a flow run row.

    ``facts`` holds precomputed, database-derived facts for rules added later (for example
    a deployment concurrency check); the built-in rules do not read it.
    """

    deployment_id: UUID | None = None
    parent_task_run_id: UUID | None = None
    infrastructure_pid: str | None = None
    empirical_policy: FlowRunPolicy = field(default_factory=FlowRunPolicy)
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRunPolicy:
    """A task run's ``empirical_policy``. ``retry_delay`` may be a list (one per retry)."""

    retries: int | None = None
    retry_delay: float | tuple[float, ...] | None = None
    retry_jitter_factor: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowRunFacts:
    """What the task rules need to know about the enclosing flow run (loaded beforehand)."""

    state_type: StateType | None
    run_count: int = 0
    pause_timeout: datetime | None = None
    pause_reschedule: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRunSnapshot(RunSnapshot):
    """What the task rules read from a task run row (``flow_run`` None: no enclosing flow)."""

    flow_run_id: UUID | None = None
    flow_run_run_count: int = 0
    empirical_policy: TaskRunPolicy = field(default_factory=TaskRunPolicy)
    flow_run: FlowRunFacts | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
