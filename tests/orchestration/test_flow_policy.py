"""The flow-run policy, from tables: one case per rule and outcome, no I/O, fixed ``now``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from prefect_trio_server.orchestration import (
    CORE_FLOW_RULES,
    MARK_LATE_FLOW_RULES,
    Decision,
    FlowRunPolicy,
    FlowRunSnapshot,
    Rule,
    State,
    StateType,
    Status,
    decide_flow_transition,
    new_state,
)
from prefect_trio_server.orchestration.states import ALL_OR_NONE, ALL_TYPES

S = StateType
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(seconds=30)
RUN_ID = UUID("00000000-0000-0000-0000-00000000f10a")
DEPLOYMENT = UUID("00000000-0000-0000-0000-0000000000de")
PARENT_TASK = UUID("00000000-0000-0000-0000-0000000000aa")
TRANSITION = UUID("00000000-0000-0000-0000-000000000071")
LEASE = UUID("00000000-0000-0000-0000-0000000000ee")
PERSISTED = {"storage_key": "/results/abc", "serializer": {"type": "pickle"}}


def st(t: StateType, name: str = "", *, at: datetime | None = EARLIER, **kw: Any) -> State:
    return new_state(t, name, timestamp=at, **kw)


def prop(t: StateType, name: str = "", **kw: Any) -> State:
    """A proposal as a client sends it: no timestamp."""
    return new_state(t, name, **kw)


def flow_run(**kw: Any) -> FlowRunSnapshot:
    policy = kw.pop("policy", FlowRunPolicy())
    return FlowRunSnapshot(id=RUN_ID, empirical_policy=policy, **kw)


@dataclass
class Case:
    current: State | None
    proposed: State
    status: Status
    state: tuple[StateType, str] | None = None  # type and name of the written state
    reason: str | None = None  # a substring of the reason
    run: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)  # run fields after the decision
    force: bool = False
    api_version: tuple[int, int, int] | None = None


def case(id: str, *args: Any, **kwargs: Any) -> Any:
    return pytest.param(Case(*args, **kwargs), id=id)


# fmt: off
CASES = [
    # -- plain acceptance
    case("accept-scheduled-to-pending", st(S.SCHEDULED), prop(S.PENDING), Status.ACCEPT,
         (S.PENDING, "Pending")),
    # -- PreserveDeploymentConcurrencyLeaseId
    case("lease-id-preserved", st(S.PENDING, deployment_concurrency_lease_id=LEASE),
         prop(S.RUNNING), Status.ACCEPT, (S.RUNNING, "Running")),
    # -- PreventDuplicateTransitions
    case("duplicate-transition-id", st(S.RUNNING, transition_id=TRANSITION),
         prop(S.RUNNING, transition_id=TRANSITION), Status.REJECT, None, "already made"),
    case("different-transition-id", st(S.RUNNING, transition_id=TRANSITION),
         prop(S.COMPLETED, transition_id=uuid4()), Status.ACCEPT, (S.COMPLETED, "Completed")),
    # -- HandleFlowTerminalStateTransitions
    case("terminal-to-crashed", st(S.COMPLETED), prop(S.CRASHED), Status.ABORT, None,
         "terminal state COMPLETED"),
    case("terminal-to-paused", st(S.FAILED), prop(S.PAUSED), Status.ABORT, None, "FAILED"),
    case("terminal-to-cancelling", st(S.CANCELLED), prop(S.CANCELLING), Status.ABORT),
    case("persisted-completed-to-running", st(S.COMPLETED, data=PERSISTED), prop(S.RUNNING),
         Status.REJECT, None, "already completed"),
    case("persisted-completed-to-unpersisted", st(S.COMPLETED, data=PERSISTED),
         prop(S.COMPLETED), Status.REJECT, None, "persisted result"),
    case("persisted-completed-to-failed", st(S.COMPLETED, data=PERSISTED), prop(S.FAILED),
         Status.ACCEPT, (S.FAILED, "Failed")),
    case("unpersisted-completed-to-running", st(S.COMPLETED, data={"type": "unpersisted"}),
         prop(S.RUNNING), Status.ACCEPT, (S.RUNNING, "Running"),
         run={"policy": FlowRunPolicy(retry_type="in_process", pause_keys=frozenset({"k"}))},
         after={"empirical_policy": FlowRunPolicy()}),
    case("terminal-to-scheduled-without-deployment", st(S.FAILED), prop(S.SCHEDULED),
         Status.ABORT, None, "without an associated deployment"),
    case("terminal-to-scheduled-with-deployment", st(S.FAILED), prop(S.SCHEDULED),
         Status.ACCEPT, (S.SCHEDULED, "Scheduled"),
         run={"deployment_id": DEPLOYMENT, "policy": FlowRunPolicy(pause_keys=frozenset("a"))},
         after={"empirical_policy": FlowRunPolicy(retry_type="reschedule")}),
    case("terminal-to-scheduled-old-client", st(S.FAILED), prop(S.SCHEDULED), Status.ACCEPT,
         (S.SCHEDULED, "Scheduled"),
         run={"deployment_id": DEPLOYMENT, "policy": FlowRunPolicy(pause_keys=frozenset("a"))},
         after={"empirical_policy": FlowRunPolicy(pause_keys=frozenset("a"))},
         api_version=(0, 8, 3)),
    # -- EnforceCancellingToCancelledTransition
    case("cancelling-to-running", st(S.CANCELLING), prop(S.RUNNING), Status.REJECT, None,
         "other than Cancelled"),
    case("cancelling-to-completed", st(S.CANCELLING), prop(S.COMPLETED), Status.REJECT),
    case("cancelling-to-cancelled", st(S.CANCELLING), prop(S.CANCELLED), Status.ACCEPT,
         (S.CANCELLED, "Cancelled")),
    # -- BypassCancellingFlowRunsWithNoInfra
    case("scheduled-cancelling-no-infra", st(S.SCHEDULED), prop(S.CANCELLING), Status.REJECT,
         (S.CANCELLED, "Cancelled"), "no infrastructure"),
    case("scheduled-cancelling-with-infra", st(S.SCHEDULED), prop(S.CANCELLING), Status.ACCEPT,
         (S.CANCELLING, "Cancelling"), run={"infrastructure_pid": "1234"}),
    case("resuming-cancelling-with-infra", st(S.SCHEDULED, "Resuming"), prop(S.CANCELLING),
         Status.REJECT, (S.CANCELLED, "Cancelled"), run={"infrastructure_pid": "1234"}),
    case("suspended-cancelling", st(S.PAUSED, "Suspended", pause_reschedule=True),
         prop(S.CANCELLING), Status.REJECT, (S.CANCELLED, "Cancelled"), "Suspended"),
    case("paused-cancelling", st(S.PAUSED), prop(S.CANCELLING), Status.ACCEPT,
         (S.CANCELLING, "Cancelling")),
    # -- PreventPendingTransitions
    case("pending-to-pending", st(S.PENDING), prop(S.PENDING), Status.ABORT, None,
         "in a PENDING state and cannot transition to a PENDING state"),
    case("running-to-pending", st(S.RUNNING), prop(S.PENDING), Status.ABORT, None, "RUNNING"),
    case("cancelling-to-pending", st(S.CANCELLING), prop(S.PENDING), Status.REJECT, None,
         "other than Cancelled"),
    case("cancelled-to-pending-reverts-reset", st(S.CANCELLED), prop(S.PENDING), Status.ABORT,
         None, "CANCELLED", run={"policy": FlowRunPolicy(pause_keys=frozenset({"k"}))},
         after={"empirical_policy": FlowRunPolicy(pause_keys=frozenset({"k"}))}),
    case("pending-to-submitting", st(S.PENDING, scheduled_time=EARLIER),
         prop(S.PENDING, "Submitting"), Status.ACCEPT, (S.PENDING, "Submitting")),
    case("submitting-to-submitting", st(S.PENDING, "Submitting"),
         prop(S.PENDING, "Submitting"), Status.ABORT),
    case("submitting-to-pending", st(S.PENDING, "Submitting"), prop(S.PENDING), Status.ABORT),
    # -- EnsureOnlyScheduledFlowsMarkedLate
    case("scheduled-marked-late", st(S.SCHEDULED, scheduled_time=EARLIER),
         prop(S.SCHEDULED, "Late", scheduled_time=EARLIER), Status.ACCEPT, (S.SCHEDULED, "Late")),
    case("running-marked-late", st(S.RUNNING), prop(S.SCHEDULED, "Late"), Status.REJECT, None,
         "Only scheduled"),
    case("no-state-marked-late", None, prop(S.SCHEDULED, "Late"), Status.REJECT),
    case("late-marked-late", st(S.SCHEDULED, "Late"), prop(S.SCHEDULED, "Late"), Status.REJECT,
         None, "already marked late"),
    # -- HandlePausingFlows
    case("pause-without-state", None, prop(S.PAUSED), Status.ABORT, None, "no state"),
    case("pause-not-running", st(S.PENDING), prop(S.PAUSED), Status.REJECT, None,
         "not currently running"),
    case("pause-running", st(S.RUNNING), prop(S.PAUSED, pause_key="p1"), Status.ACCEPT,
         (S.PAUSED, "Paused"),
         after={"empirical_policy": FlowRunPolicy(pause_keys=frozenset({"p1"}))}),
    case("pause-key-fired", st(S.RUNNING), prop(S.PAUSED, pause_key="p1"), Status.REJECT, None,
         "already fired", run={"policy": FlowRunPolicy(pause_keys=frozenset({"p1"}))}),
    case("suspend-subflow", st(S.RUNNING), prop(S.PAUSED, pause_reschedule=True), Status.ABORT,
         None, "subflows", run={"parent_task_run_id": PARENT_TASK, "deployment_id": DEPLOYMENT}),
    case("suspend-without-deployment", st(S.RUNNING), prop(S.PAUSED, pause_reschedule=True),
         Status.ABORT, None, "without a deployment"),
    case("suspend-with-deployment", st(S.RUNNING),
         prop(S.PAUSED, "Suspended", pause_reschedule=True), Status.ACCEPT,
         (S.PAUSED, "Suspended"), run={"deployment_id": DEPLOYMENT}),
    # -- HandleResumingPausedFlows
    case("resume-to-running", st(S.PAUSED), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Running"), run={"run_count": 1}, after={"run_count": 1}),
    case("resume-to-pending", st(S.PAUSED), prop(S.PENDING), Status.REJECT, None,
         "non-running"),
    case("resume-suspended-without-deployment", st(S.PAUSED, pause_reschedule=True),
         prop(S.SCHEDULED, "Resuming"), Status.REJECT, None, "without a deployment"),
    case("resume-suspended-with-deployment", st(S.PAUSED, pause_reschedule=True),
         prop(S.SCHEDULED, "Resuming"), Status.ACCEPT, (S.SCHEDULED, "Resuming"),
         run={"deployment_id": DEPLOYMENT},
         after={"empirical_policy": FlowRunPolicy(resuming=True)}),
    case("resume-after-timeout", st(S.PAUSED, pause_timeout=NOW - timedelta(seconds=1)),
         prop(S.RUNNING), Status.REJECT, (S.FAILED, "Failed"), "timed out"),
    case("cancel-after-timeout", st(S.PAUSED, pause_timeout=NOW - timedelta(seconds=1)),
         prop(S.CANCELLING), Status.ACCEPT, (S.CANCELLING, "Cancelling")),
    # -- CopyScheduledTime
    case("copy-scheduled-time", st(S.SCHEDULED, scheduled_time=EARLIER), prop(S.PENDING),
         Status.ACCEPT, (S.PENDING, "Pending"), after={"next_scheduled_start_time": None},
         run={"next_scheduled_start_time": EARLIER}),
    # -- WaitForScheduledTime
    case("wait-scheduled-future", st(S.SCHEDULED, scheduled_time=NOW + timedelta(seconds=90.2)),
         prop(S.RUNNING), Status.WAIT, None, "Scheduled time is in the future"),
    case("wait-pending-future", st(S.PENDING, scheduled_time=NOW + timedelta(seconds=1)),
         prop(S.RUNNING), Status.WAIT),
    case("scheduled-time-passed", st(S.PENDING, scheduled_time=NOW), prop(S.RUNNING),
         Status.ACCEPT, (S.RUNNING, "Running")),
    # -- RetryFailedFlows
    case("retry-failed-flow", st(S.RUNNING), prop(S.FAILED, message="boom"), Status.REJECT,
         (S.SCHEDULED, "AwaitingRetry"), "Retrying",
         run={"run_count": 1, "policy": FlowRunPolicy(retries=2, retry_delay=10)},
         after={"empirical_policy": FlowRunPolicy(retries=2, retry_delay=10,
                                                   retry_type="in_process")}),
    case("retry-old-client", st(S.RUNNING), prop(S.FAILED), Status.REJECT,
         (S.SCHEDULED, "AwaitingRetry"),
         run={"run_count": 1, "policy": FlowRunPolicy(retries=1)}, api_version=(0, 8, 3),
         after={"empirical_policy": FlowRunPolicy(retries=1)}),
    case("retries-exhausted", st(S.RUNNING), prop(S.FAILED), Status.ACCEPT, (S.FAILED, "Failed"),
         run={"run_count": 2, "policy": FlowRunPolicy(retries=1, retry_type="in_process")},
         after={"empirical_policy": FlowRunPolicy(retries=1)}),
    case("no-retries", st(S.RUNNING), prop(S.FAILED), Status.ACCEPT, (S.FAILED, "Failed"),
         run={"run_count": 1}),
    # -- force=True: the minimal policy
    case("force-running-to-pending", st(S.RUNNING), prop(S.PENDING), Status.ACCEPT,
         (S.PENDING, "Pending"), force=True),
    case("force-cancelling-to-running", st(S.CANCELLING), prop(S.RUNNING), Status.ACCEPT,
         (S.RUNNING, "Running"), force=True, after={"run_count": 1}),
    case("force-keeps-persisted-result", st(S.COMPLETED, data=PERSISTED), prop(S.COMPLETED),
         Status.REJECT, None, "persisted result", force=True),
    case("force-bypass-cancelling", st(S.SCHEDULED), prop(S.CANCELLING), Status.REJECT,
         (S.CANCELLED, "Cancelled"), force=True),
    case("force-initial-state", None, prop(S.PENDING), Status.ACCEPT, (S.PENDING, "Pending"),
         force=True, after={"expected_start_time": NOW, "state_type": S.PENDING}),
]
# fmt: on


def decide(c: Case) -> Decision[FlowRunSnapshot]:
    return decide_flow_transition(
        flow_run(**c.run),
        c.current,
        c.proposed,
        now=NOW,
        force=c.force,
        api_version=c.api_version,
    )


@pytest.mark.parametrize("c", CASES)
def test_flow_rule(c: Case) -> None:
    d = decide(c)
    assert d.status is c.status, d.reason
    written = None if d.state is None else (d.state.type, d.state.name)
    assert written == c.state
    assert d.written is (c.state is not None)
    if c.reason is not None:
        assert d.reason is not None
        assert c.reason in d.reason
    for key, value in c.after.items():
        assert getattr(d.run, key) == value, key
    if d.state is None:
        assert d.updates == {}, "nothing written, nothing changed"
        assert d.response_state(c.current) is c.current
    else:
        assert d.run.state_type is d.state.type
        assert d.state.details.flow_run_id == RUN_ID


def test_details_shapes() -> None:
    accept = decide(Case(st(S.SCHEDULED), prop(S.PENDING), Status.ACCEPT))
    assert accept.details == {"type": "accept_details"}
    waiting = decide(
        Case(
            st(S.SCHEDULED, scheduled_time=NOW + timedelta(seconds=90.2)),
            prop(S.RUNNING),
            Status.WAIT,
        )
    )
    assert waiting.details == {
        "type": "wait_details",
        "delay_seconds": 91,
        "reason": "Scheduled time is in the future",
    }
    rejected = decide(Case(st(S.CANCELLING), prop(S.RUNNING), Status.REJECT))
    assert rejected.details == {
        "type": "reject_details",
        "reason": "Cannot transition flows that are cancelling to a state other than Cancelled.",
    }
    aborted = decide(Case(st(S.PENDING), prop(S.PENDING), Status.ABORT))
    assert aborted.details["type"] == "abort_details"


def test_retry_state_carries_message_data_and_lease() -> None:
    d = decide_flow_transition(
        flow_run(run_count=1, policy=FlowRunPolicy(retries=1, retry_delay=10)),
        st(S.RUNNING, deployment_concurrency_lease_id=LEASE),
        prop(S.FAILED, message="boom", data=PERSISTED),
        now=NOW,
    )
    assert d.state is not None
    assert d.state.message == "boom"
    assert d.state.data == PERSISTED
    assert d.state.details.scheduled_time == NOW + timedelta(seconds=10)
    assert d.state.details.deployment_concurrency_lease_id == LEASE
    assert d.run.next_scheduled_start_time == NOW + timedelta(seconds=10)
    assert d.run.total_run_time == NOW - EARLIER


def test_submitting_inherits_scheduled_time_and_lease() -> None:
    d = decide_flow_transition(
        flow_run(),
        st(S.PENDING, scheduled_time=EARLIER, deployment_concurrency_lease_id=LEASE),
        prop(S.PENDING, "Submitting"),
        now=NOW,
    )
    assert d.state is not None
    assert d.state.details.scheduled_time == EARLIER
    assert d.state.details.deployment_concurrency_lease_id == LEASE


def test_copy_scheduled_time_into_pending() -> None:
    d = decide_flow_transition(
        flow_run(), st(S.SCHEDULED, scheduled_time=EARLIER), prop(S.PENDING), now=NOW
    )
    assert d.state is not None
    assert d.state.details.scheduled_time == EARLIER


def test_rejected_late_with_no_state_returns_nothing() -> None:
    d = decide_flow_transition(flow_run(), None, prop(S.SCHEDULED, "Late"), now=NOW)
    assert d.response_state(None) is None


def test_error_in_a_rule_aborts_and_discards_changes() -> None:
    def boom(ctx: Any) -> None:
        raise RuntimeError("bad rule")

    rules = (*CORE_FLOW_RULES, Rule("Boom", ALL_OR_NONE, ALL_TYPES, boom))
    d = decide_flow_transition(flow_run(), st(S.SCHEDULED), prop(S.PENDING), now=NOW, rules=rules)
    assert d.status is Status.ABORT
    assert d.reason is not None
    assert d.reason.startswith("Aborting orchestration due to error in Boom: RuntimeError")
    assert d.state is None
    assert d.updates == {}


def test_mark_late_policy() -> None:
    late = prop(S.SCHEDULED, "Late", scheduled_time=EARLIER)
    ok = decide_flow_transition(
        flow_run(),
        st(S.SCHEDULED, scheduled_time=EARLIER),
        late,
        now=NOW,
        rules=MARK_LATE_FLOW_RULES,
    )
    assert ok.status is Status.ACCEPT
    assert ok.run.next_scheduled_start_time == EARLIER
    again = decide_flow_transition(
        flow_run(), st(S.SCHEDULED, "Late"), late, now=NOW, rules=MARK_LATE_FLOW_RULES
    )
    assert again.status is Status.REJECT


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_flow_transition(flow_run(), None, prop(S.PENDING), now=datetime(2025, 1, 1))


# -- client scenarios, step by step ---------------------------------------------------------


class FlowRunStore:
    """A run and its current state, advanced by decisions (what the use-case layer does)."""

    def __init__(self, run: FlowRunSnapshot, now: datetime = NOW) -> None:
        self.run = run
        self.current: State | None = None
        self.now = now

    def propose(self, proposed: State, *, after: float = 1.0, **kw: Any) -> Decision[Any]:
        self.now += timedelta(seconds=after)
        d = decide_flow_transition(self.run, self.current, proposed, now=self.now, **kw)
        self.run = d.run
        self.current = d.response_state(self.current)
        return d


def test_lifecycle_bookkeeping() -> None:
    store = FlowRunStore(flow_run())
    created = store.propose(prop(S.PENDING), force=True, after=0)
    assert created.status is Status.ACCEPT
    assert store.run.expected_start_time == NOW
    assert store.run.run_count == 0
    running = store.propose(prop(S.RUNNING, transition_id=uuid4()))
    assert running.status is Status.ACCEPT
    assert running.updates["run_count"] == 1
    assert store.run.start_time == NOW + timedelta(seconds=1)
    completed = store.propose(prop(S.COMPLETED, untrackable_result=True), after=2.5)
    assert completed.status is Status.ACCEPT
    assert store.run.run_count == 1
    assert store.run.end_time == NOW + timedelta(seconds=3.5)
    assert store.run.total_run_time == timedelta(seconds=2.5)
    assert (store.run.state_type, store.run.state_name) == (S.COMPLETED, "Completed")
    assert store.run.state_timestamp == store.now


def test_scheduled_deployment_run_lifecycle() -> None:
    store = FlowRunStore(flow_run(deployment_id=DEPLOYMENT))
    scheduled_time = NOW + timedelta(seconds=60)
    store.propose(prop(S.SCHEDULED, scheduled_time=scheduled_time), force=True, after=0)
    assert store.run.expected_start_time == scheduled_time
    assert store.run.next_scheduled_start_time == scheduled_time
    # Two workers claim the run: the first wins, the second is aborted.
    first = store.propose(prop(S.PENDING))
    assert first.status is Status.ACCEPT
    assert first.state is not None
    assert first.state.details.scheduled_time == scheduled_time
    assert store.run.next_scheduled_start_time is None
    second = store.propose(prop(S.PENDING))
    assert second.status is Status.ABORT
    # The engine may rename its Pending state.
    assert store.propose(prop(S.PENDING, "Submitting")).status is Status.ACCEPT
    # Too early: WAIT for the scheduled time, then run.
    early = store.propose(prop(S.RUNNING))
    assert (early.status, early.delay_seconds) == (Status.WAIT, 56)
    assert store.current is not None
    assert store.current.name == "Submitting"
    assert store.propose(prop(S.RUNNING), after=56).status is Status.ACCEPT
    assert store.run.run_count == 1


def test_flow_retry_scenario() -> None:
    store = FlowRunStore(flow_run(policy=FlowRunPolicy(retries=1, retry_delay=1)))
    store.propose(prop(S.PENDING), force=True, after=0)
    assert store.propose(prop(S.RUNNING)).status is Status.ACCEPT
    failed = store.propose(prop(S.FAILED, message="Flow run encountered an exception"))
    assert failed.status is Status.REJECT
    assert failed.written
    assert failed.details == {"type": "reject_details", "reason": "Retrying"}
    assert store.current is not None
    assert (store.current.type, store.current.name) == (S.SCHEDULED, "AwaitingRetry")
    assert store.run.empirical_policy.retry_type == "in_process"
    waiting = store.propose(prop(S.RUNNING), after=0.25)
    assert (waiting.status, waiting.delay_seconds) == (Status.WAIT, 1)
    rerun = store.propose(prop(S.RUNNING))
    assert rerun.status is Status.ACCEPT
    assert rerun.state is not None
    assert rerun.state.name == "Running"
    assert store.run.run_count == 2
    final = store.propose(prop(S.FAILED))
    assert final.status is Status.ACCEPT
    assert store.run.empirical_policy.retry_type is None


def test_client_retry_of_applied_request_is_rejected_with_current() -> None:
    store = FlowRunStore(flow_run())
    store.propose(prop(S.PENDING), force=True, after=0)
    transition = uuid4()
    first = store.propose(prop(S.RUNNING, transition_id=transition))
    again = store.propose(prop(S.RUNNING, transition_id=transition))
    assert again.status is Status.REJECT
    assert again.response_state(store.current) == first.state
    assert store.run.run_count == 1


def test_suspend_and_resume_does_not_count_a_run() -> None:
    store = FlowRunStore(flow_run(deployment_id=DEPLOYMENT))
    store.propose(prop(S.PENDING), force=True, after=0)
    store.propose(prop(S.RUNNING))
    assert store.propose(prop(S.PAUSED, "Suspended", pause_reschedule=True, pause_key="k"))
    assert store.run.empirical_policy.pause_keys == {"k"}
    store.propose(prop(S.SCHEDULED, "Resuming"))
    assert store.run.empirical_policy.resuming
    store.propose(prop(S.PENDING))
    resumed = store.propose(prop(S.RUNNING))
    assert resumed.status is Status.ACCEPT
    assert store.run.run_count == 1
    assert not store.run.empirical_policy.resuming


def test_subflow_states_point_at_parent_task_run() -> None:
    d = decide_flow_transition(
        flow_run(parent_task_run_id=PARENT_TASK), None, prop(S.PENDING), now=NOW, force=True
    )
    assert d.state is not None
    assert d.state.details.task_run_id == PARENT_TASK
    assert d.state.details.flow_run_id == RUN_ID


def test_force_bypasses_rules_but_keeps_bookkeeping() -> None:
    run = flow_run(run_count=1, start_time=EARLIER)
    current = st(S.COMPLETED, data=PERSISTED)
    core = decide_flow_transition(run, current, prop(S.RUNNING), now=NOW)
    assert core.status is Status.REJECT
    forced = decide_flow_transition(
        replace(run, end_time=EARLIER), current, prop(S.RUNNING), now=NOW, force=True
    )
    assert forced.status is Status.ACCEPT
    assert forced.updates["run_count"] == 2
    assert forced.updates["end_time"] is None
    assert forced.run.state_type is S.RUNNING


def test_lease_id_is_carried_into_the_next_state() -> None:
    d = decide_flow_transition(
        flow_run(), st(S.PENDING, deployment_concurrency_lease_id=LEASE), prop(S.RUNNING), now=NOW
    )
    assert d.state is not None
    assert d.state.details.deployment_concurrency_lease_id == LEASE
