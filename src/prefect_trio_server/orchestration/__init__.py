"""Orchestration: pure state-transition rules for flow and task runs.

``decide_flow_transition`` / ``decide_task_transition`` take a run snapshot, the current
state, a proposed state and ``now``, and return a ``Decision``: no I/O, no await, no clock
reads. The policy tables are in ``flow_policy`` and ``task_policy``, the bookkeeping every
written state gets in ``transforms``, the engine (fizzle semantics) in ``decision``.
"""

from __future__ import annotations

from .decision import Context, Decision, Rule, Status, Verdict, abort, proceed, reject, wait
from .flow_policy import (
    CORE_FLOW_RULES,
    MARK_LATE_FLOW_RULES,
    MINIMAL_FLOW_RULES,
    decide_flow_transition,
)
from .runs import (
    FlowRunFacts,
    FlowRunPolicy,
    FlowRunSnapshot,
    RunSnapshot,
    TaskRunPolicy,
    TaskRunSnapshot,
)
from .states import (
    TERMINAL_TYPES,
    ProposedState,
    State,
    StateDetails,
    StateType,
    default_name,
    new_state,
)
from .task_policy import CORE_TASK_RULES, MINIMAL_TASK_RULES, decide_task_transition

__all__ = [
    "CORE_FLOW_RULES",
    "CORE_TASK_RULES",
    "MARK_LATE_FLOW_RULES",
    "MINIMAL_FLOW_RULES",
    "MINIMAL_TASK_RULES",
    "TERMINAL_TYPES",
    "Context",
    "Decision",
    "FlowRunFacts",
    "FlowRunPolicy",
    "FlowRunSnapshot",
    "ProposedState",
    "Rule",
    "RunSnapshot",
    "State",
    "StateDetails",
    "StateType",
    "Status",
    "TaskRunPolicy",
    "TaskRunSnapshot",
    "Verdict",
    "abort",
    "decide_flow_transition",
    "decide_task_transition",
    "default_name",
    "new_state",
    "proceed",
    "reject",
    "wait",
]
