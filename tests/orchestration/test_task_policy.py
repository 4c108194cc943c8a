"""The task-run policy, from tables: one case per rule and outcome, no I/O, fixed ``now``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from prefect_trio_server.orchestration import (
    Decision,
    FlowRunFacts,
    State,
    StateType,
    Status,
    TaskRunPolicy,
    TaskRunSnapshot,
    decide_task_transition,
    new_state,
)
from prefect_trio_server.orchestration.task_policy import retry_delay_seconds

S = StateType
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(seconds=30)
TASK_ID = UUID("00000000-0000-0000-0000-000000007a5c")
FLOW_RUN_ID = UUID("00000000-0000-0000-0000-00000000f10a")
PERSISTED = {"storage_key": "/results/abc"}
FLOW_RUNNING = FlowRunFacts(state_type=S.RUNNING, run_count=1)


def st(t: StateType, name: str = "", **kw: Any) -> State:
    return new_state(t, name, timestamp=EARLIER, **kw)


def prop(t: StateType, name: str = "", **kw: Any) -> State:
    return new_state(t, name, **kw)


def task_run(**kw: Any) -> TaskRunSnapshot:
    kw.setdefault("flow_run", FLOW_RUNNING)
    kw.setdefault("flow_run_run_count", 1)
    return TaskRunSnapshot(id=TASK_ID, flow_run_id=FLOW_RUN_ID, **kw)


@dataclass
class Case:
    current: State | None
    proposed: State
    status: Status
    state: tuple[StateType, str] | None = None
    reason: str | None = None
    run: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    force: bool = False


def case(id: str, *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Case(*args, **kwargs), id=id)


def paused_flow(**kw: Any) -> FlowRunFacts:
    return FlowRunFacts(state_type=S.PAUSED, run_count=1, **kw)


def retrying(delay: Any = 5.0, retries: int = 2) -> TaskRunPolicy:
    return TaskRunPolicy(retries=retries, retry_delay=delay)


# fmt: off
CASES = [
    case("accept-pending-to-running", st(S.PENDING), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Running"), after={"run_count": 1, "start_time": NOW}),
    # -- HandleTaskTerminalStateTransitions
    case("terminal-to-crashed", st(S.COMPLETED), prop(S.CRASHED), Status.ABORT, None,
         "terminal state COMPLETED"),
    case("terminal-to-cancelling", st(S.FAILED), prop(S.CANCELLING), Status.ABORT),
    case("persisted-completed-to-running", st(S.COMPLETED, data=PERSISTED), prop(S.RUNNING),
         Status.REJECT, None, "already completed"),
    case("failed-to-running-resets-run-count", st(S.FAILED), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Running"), run={"run_count": 3}, after={"run_count": 1}),
    case("failed-to-completed-keeps-run-count", st(S.FAILED), prop(S.COMPLETED), Status.ACCEPT,
         (S.COMPLETED, "Completed"), run={"run_count": 3}, after={"run_count": 3}),
    case("terminal-rerun-in-retrying-flow", st(S.FAILED), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Retrying"), run={"run_count": 1, "flow_run_run_count": 1,
                                       "flow_run": FlowRunFacts(state_type=S.RUNNING,
                                                                run_count=2)},
         after={"run_count": 1, "flow_run_run_count": 2}),
    case("failed-to-pending-resets-run-count", st(S.FAILED), prop(S.PENDING), Status.ACCEPT,
         (S.PENDING, "Pending"), run={"run_count": 2}, after={"run_count": 0}),
    case("terminal-reset-reverted-on-abort", st(S.FAILED), prop(S.RUNNING), Status.ABORT,
         run={"run_count": 2, "flow_run": FlowRunFacts(state_type=S.FAILED)},
         after={"run_count": 2}),
    # -- PreventRunningTasksFromStoppedFlows
    case("flow-paused", st(S.PENDING), prop(S.RUNNING), Status.REJECT, (S.PAUSED, "NotReady"),
         "flow is paused", run={"flow_run": paused_flow()}),
    case("flow-not-running", st(S.PENDING), prop(S.RUNNING), Status.ABORT, None,
         "enclosing flow must be running",
         run={"flow_run": FlowRunFacts(state_type=S.COMPLETED)}),
    case("flow-without-state", st(S.PENDING), prop(S.RUNNING), Status.ABORT,
         run={"flow_run": FlowRunFacts(state_type=None)}),
    case("autonomous-task", st(S.PENDING), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Running"), run={"flow_run": None}),
    # -- CopyScheduledTime / WaitForScheduledTime
    case("copy-scheduled-time", st(S.SCHEDULED, scheduled_time=EARLIER), prop(S.PENDING),
         Status.ACCEPT, (S.PENDING, "Pending")),
    case("wait-for-scheduled-time", st(S.SCHEDULED, scheduled_time=NOW + timedelta(seconds=3)),
         prop(S.RUNNING), Status.WAIT, None, "in the future"),
    # -- RetryFailedTasks
    case("retry-failed-task", st(S.RUNNING), prop(S.FAILED), Status.REJECT,
         (S.SCHEDULED, "AwaitingRetry"), "Retrying",
         run={"run_count": 1, "empirical_policy": retrying()},
         after={"next_scheduled_start_time": NOW + timedelta(seconds=5)}),
    case("retry-delay-list", st(S.RUNNING), prop(S.FAILED), Status.REJECT,
         (S.SCHEDULED, "AwaitingRetry"),
         run={"run_count": 2, "empirical_policy": retrying((1.0, 7.0))},
         after={"next_scheduled_start_time": NOW + timedelta(seconds=7)}),
    case("not-retriable", st(S.RUNNING), prop(S.FAILED, retriable=False), Status.ACCEPT,
         (S.FAILED, "Failed"), run={"run_count": 1, "empirical_policy": retrying()}),
    case("task-retries-exhausted", st(S.RUNNING), prop(S.FAILED), Status.ACCEPT,
         (S.FAILED, "Failed"), run={"run_count": 3, "empirical_policy": retrying()}),
    # -- RenameReruns
    case("rename-retrying", st(S.SCHEDULED, "AwaitingRetry"), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Retrying"), run={"run_count": 1}, after={"run_count": 2}),
    case("rename-rerunning", st(S.RUNNING), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Rerunning"), run={"run_count": 1}),
    case("first-run-not-renamed", st(S.PENDING), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Running"), run={"run_count": 0}),
    # -- UpdateFlowRunTrackerOnTasks
    case("update-flow-run-tracker", st(S.PENDING), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Running"), run={"flow_run_run_count": 0},
         after={"flow_run_run_count": 1}),
    case("tracker-reverted-on-wait", st(S.PENDING, scheduled_time=NOW + timedelta(seconds=3)),
         prop(S.RUNNING), Status.WAIT, run={"flow_run_run_count": 0},
         after={"flow_run_run_count": 0}),
    # -- force=True: no rules, bookkeeping kept
    case("force-from-terminal", st(S.COMPLETED, data=PERSISTED), prop(S.CRASHED),
         Status.ACCEPT, (S.CRASHED, "Crashed"), force=True, after={"end_time": NOW}),
    case("force-while-flow-paused", st(S.PENDING), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Running"), run={"flow_run": paused_flow()}, force=True,
         after={"run_count": 1}),
]
# fmt: on


def decide(c: Case) -> Decision[TaskRunSnapshot]:
    return decide_task_transition(task_run(**c.run), c.current, c.proposed, now=NOW, force=c.force)


@pytest.mark.parametrize("c", CASES)
def test_task_rule(c: Case) -> None:
    d = decide(c)
    assert d.status is c.status, d.reason
    written = None if d.state is None else (d.state.type, d.state.name)
    assert written == c.state
    if c.reason is not None:
        assert d.reason is not None
        assert c.reason in d.reason
    for key, value in c.after.items():
        assert getattr(d.run, key) == value, key
    if d.state is None:
        assert d.updates == {}
    else:
        assert d.state.details.task_run_id == TASK_ID
        assert d.state.details.flow_run_id == FLOW_RUN_ID
        assert d.run.state_name == d.state.name


@pytest.mark.parametrize(
    ("delay", "run_count", "expected"),
    [
        pytest.param(None, 1, 0.0, id="none"),
        pytest.param(4.0, 3, 4.0, id="number"),
        pytest.param((), 1, 0.0, id="empty-list"),
        pytest.param((1.0, 2.0, 3.0), 1, 1.0, id="list-first"),
        pytest.param((1.0, 2.0, 3.0), 3, 3.0, id="list-third"),
        pytest.param((1.0, 2.0), 5, 2.0, id="list-beyond-end"),
    ],
)
def test_retry_delay_seconds(delay: Any, run_count: int, expected: float) -> None:
    assert retry_delay_seconds(TaskRunPolicy(retries=9, retry_delay=delay), run_count) == expected


def test_paused_flow_not_ready_state_carries_pause_details() -> None:
    timeout = NOW + timedelta(hours=1)
    d = decide_task_transition(
        task_run(flow_run=paused_flow(pause_timeout=timeout, pause_reschedule=True)),
        st(S.PENDING),
        prop(S.RUNNING),
        now=NOW,
    )
    assert d.state is not None
    assert d.state.details.pause_timeout == timeout
    assert d.state.details.pause_reschedule


def test_task_retry_scenario() -> None:
    run = task_run(empirical_policy=retrying(delay=2.0, retries=1))
    current: State | None = None
    now = NOW
    for proposal, expected in [
        (prop(S.PENDING), (Status.ACCEPT, "Pending")),
        (prop(S.RUNNING), (Status.ACCEPT, "Running")),
        (prop(S.FAILED, message="boom"), (Status.REJECT, "AwaitingRetry")),
        (prop(S.RUNNING), (Status.WAIT, "AwaitingRetry")),
        (prop(S.RUNNING), (Status.ACCEPT, "Retrying")),
        (prop(S.FAILED), (Status.ACCEPT, "Failed")),
    ]:
        now += timedelta(seconds=1)
        d = decide_task_transition(run, current, proposal, now=now)
        run, current = d.run, d.response_state(current)
        assert current is not None
        assert (d.status, current.name) == expected
    assert run.run_count == 2
    assert run.total_run_time == timedelta(seconds=2)
    assert run.end_time == now
