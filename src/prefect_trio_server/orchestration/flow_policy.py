"""Flow-run orchestration policy: ``(run, current state, proposal) -> Decision``.

Core policy (``force=False``), in priority order; None = the run has no state yet,
FINAL = COMPLETED/FAILED/CANCELLED/CRASHED. REJECT(current) keeps the current state.

====================================== ======================= ==============================
rule                                   FROM -> TO              effect
====================================== ======================= ==============================
PreserveDeploymentConcurrencyLeaseId   any -> any              copy current lease id into a
                                                               proposal that has none
PreventDuplicateTransitions            any -> any              same transition_id: REJECT
                                                               (current)
HandleFlowTerminalStateTransitions     FINAL -> any            -> CANCELLING/PAUSED/CRASHED:
                                                               ABORT; COMPLETED with persisted
                                                               result -> non-final, or ->
                                                               COMPLETED without one: REJECT
                                                               (current); -> SCHEDULED without
                                                               deployment: ABORT; -> non-final:
                                                               pause_keys={}, resuming=False,
                                                               retry_type=reschedule|None [1]
EnforceCancellingToCancelledTransition CANCELLING -> not       REJECT (current)
                                       CANCELLED
BypassCancellingFlowRunsWithNoInfra    SCHEDULED/PAUSED ->     SCHEDULED without infra pid or
                                       CANCELLING              named Resuming, or suspended
                                                               PAUSED: REJECT -> Cancelled
PreventPendingTransitions              PENDING/RUNNING/        ABORT, except PENDING -> PENDING
                                       CANCELLING/CANCELLED    renamed (not "Pending", e.g.
                                       -> PENDING              Submitting): inherits
                                                               scheduled_time and lease id
EnsureOnlyScheduledFlowsMarkedLate     any -> SCHEDULED "Late" current not SCHEDULED, or
                                                               already Late: REJECT (current)
HandlePausingFlows                     any -> PAUSED           None: ABORT; not RUNNING or
                                                               pause_key already fired: REJECT
                                                               (current); suspend of subflow /
                                                               run without deployment: ABORT;
                                                               records pause_key [1]
HandleResumingPausedFlows              PAUSED -> any           only RUNNING/SCHEDULED/
                                                               CANCELLING/FINAL, suspended run
                                                               needs a deployment: else REJECT
                                                               (current); -> RUNNING/SCHEDULED:
                                                               pause_timeout passed: REJECT ->
                                                               Failed, else resuming=True [1]
CopyScheduledTime                      SCHEDULED -> PENDING    scheduled_time into proposal
WaitForScheduledTime                   SCHEDULED/PENDING ->    scheduled_time in the future:
                                       RUNNING                 WAIT until then
RetryFailedFlows                       RUNNING -> FAILED       run_count <= retries: REJECT ->
                                                               AwaitingRetry at now+retry_delay,
                                                               retry_type=in_process [2];
                                                               else retry_type=None
====================================== ======================= ==============================

[1] kept only if the transition goes through (undone when it fizzles).
[2] pause_keys={} and resuming=False too; retry_type only for API >= 0.8.4 or no version.

Minimal policy (``force=True``, and the initial state of a new run):
PreserveDeploymentConcurrencyLeaseId, PreventResultDataLoss (COMPLETED with persisted result
-> COMPLETED without: REJECT), BypassCancellingFlowRunsWithNoInfra.
Mark-late policy (late-runs service): EnsureOnlyScheduledFlowsMarkedLate.

Left out, because they need the database or run after the commit (the use-case layer does
them; a later pure rule can read a precomputed fact from ``FlowRunSnapshot.facts``):
SecureFlowConcurrencySlots, ValidateDeploymentConcurrencyAtRunning,
RemoveDeploymentConcurrencyLeaseForOldClientVersions, ReleaseFlowConcurrencySlots,
EnforceDeploymentConcurrencyOnLate, InstrumentFlowRunStateTransitions (events).
A pause without ``pause_key`` records nothing (Prefect would record a random key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from .decision import (
    ApiVersion,
    Context,
    Decision,
    Rule,
    Verdict,
    abort,
    apply_rules,
    check_now,
    is_modern_client,
    make_decision,
    proceed,
    reject,
    seconds_until,
    stamp,
    wait,
)
from .runs import FlowRunSnapshot
from .states import ALL_OR_NONE, ALL_TYPES, TERMINAL_TYPES, State, StateType, new_state
from .transforms import transform_flow_run

S = StateType
Ctx = Context[FlowRunSnapshot]
FlowVerdict = Verdict[FlowRunSnapshot] | None
FlowRule = Rule[FlowRunSnapshot]


def _types(*types: StateType | None) -> frozenset[StateType | None]:
    return frozenset(types)


def preserve_lease_id(ctx: Ctx) -> FlowVerdict:
    lease = ctx.initial.details.deployment_concurrency_lease_id if ctx.initial else None
    if lease is None or ctx.proposed.details.deployment_concurrency_lease_id is not None:
        return None
    return proceed(ctx.proposed.with_details(deployment_concurrency_lease_id=lease))


def prevent_duplicate_transitions(ctx: Ctx) -> FlowVerdict:
    if ctx.initial is None:
        return None
    current_id = ctx.initial.details.transition_id
    if current_id is not None and current_id == ctx.proposed.details.transition_id:
        return reject(None, "This run has already made this state transition.")
    return None


def _loses_result(initial: State, proposed: State) -> bool:
    return (
        initial.type is S.COMPLETED
        and initial.has_persisted_result
        and proposed.type is S.COMPLETED
        and not proposed.has_persisted_result
    )


def handle_terminal_transitions(ctx: Ctx) -> FlowVerdict:
    initial, proposed = ctx.initial, ctx.proposed
    assert initial is not None
    if proposed.type in {S.CANCELLING, S.PAUSED, S.CRASHED}:
        return abort(f"Run is already in terminal state {initial.type.value}.")
    if initial.type is S.COMPLETED and initial.has_persisted_result:
        if not proposed.is_final:
            return reject(None, "This run is already completed.")
        if _loses_result(initial, proposed):
            return reject(None, "This run has already completed with a persisted result.")
    if proposed.type is S.SCHEDULED and ctx.run.deployment_id is None:
        return abort("Cannot reschedule a run without an associated deployment.")
    if proposed.is_final or not is_modern_client(ctx.api_version):
        return None
    policy = replace(
        ctx.run.empirical_policy,
        pause_keys=frozenset(),
        resuming=False,
        retry_type="reschedule" if proposed.type is S.SCHEDULED else None,
    )
    return proceed(run=replace(ctx.run, empirical_policy=policy), revert_if_invalid=True)


def prevent_result_data_loss(ctx: Ctx) -> FlowVerdict:
    assert ctx.initial is not None
    if _loses_result(ctx.initial, ctx.proposed):
        return reject(None, "This run has already completed with a persisted result.")
    return None


def enforce_cancelling_to_cancelled(ctx: Ctx) -> FlowVerdict:
    return reject(
        None, "Cannot transition flows that are cancelling to a state other than Cancelled."
    )


def bypass_cancelling_without_infra(ctx: Ctx) -> FlowVerdict:
    initial = ctx.initial
    assert initial is not None
    if initial.type is S.SCHEDULED and (
        ctx.run.infrastructure_pid is None or initial.name == "Resuming"
    ):
        reason = "Scheduled flow run has no infrastructure to cancel."
    elif initial.type is S.PAUSED and initial.details.pause_reschedule:
        reason = "Suspended flow run has no infrastructure to cancel."
    else:
        return None
    cancelled = new_state(S.CANCELLED, timestamp=ctx.now, message=ctx.proposed.message)
    return reject(cancelled, reason)


def prevent_pending_transitions(ctx: Ctx) -> FlowVerdict:
    initial, proposed = ctx.initial, ctx.proposed
    assert initial is not None
    if initial.type is S.PENDING and proposed.name != "Pending" and proposed.name != initial.name:
        inherited = proposed.with_details(
            scheduled_time=proposed.details.scheduled_time or initial.details.scheduled_time,
            deployment_concurrency_lease_id=(
                proposed.details.deployment_concurrency_lease_id
                or initial.details.deployment_concurrency_lease_id
            ),
        )
        return proceed(inherited)
    return abort(
        f"This run is in a {initial.type.value} state and cannot transition to a PENDING state."
    )


def ensure_only_scheduled_marked_late(ctx: Ctx) -> FlowVerdict:
    if ctx.proposed.name != "Late":
        return None
    if ctx.initial is None or ctx.initial.type is not S.SCHEDULED:
        return reject(None, "Only scheduled flows can be marked late.")
    if ctx.initial.name == "Late":
        return reject(None, "This run is already marked late.")
    return None


def handle_pausing(ctx: Ctx) -> FlowVerdict:
    initial, details, run = ctx.initial, ctx.proposed.details, ctx.run
    if initial is None:
        return abort("Cannot pause flows with no state.")
    if initial.type is not S.RUNNING:
        return reject(None, "Cannot pause flows that are not currently running.")
    key = details.pause_key
    if key is not None and key in run.empirical_policy.pause_keys:
        return reject(None, "This pause has already fired.")
    if details.pause_reschedule:
        if run.parent_task_run_id is not None:
            return abort("Cannot suspend subflows.")
        if run.deployment_id is None:
            return abort("Cannot suspend flows without a deployment.")
    if key is None:
        return None
    policy = replace(run.empirical_policy, pause_keys=run.empirical_policy.pause_keys | {key})
    return proceed(run=replace(run, empirical_policy=policy), revert_if_invalid=True)


_RESUMABLE = frozenset({S.RUNNING, S.SCHEDULED, S.CANCELLING}) | TERMINAL_TYPES


def handle_resuming(ctx: Ctx) -> FlowVerdict:
    initial, proposed, run = ctx.initial, ctx.proposed, ctx.run
    assert initial is not None
    if proposed.type not in _RESUMABLE:
        return reject(None, "Cannot leave a paused state for a non-running state.")
    if initial.details.pause_reschedule and run.deployment_id is None:
        return reject(None, "Cannot reschedule a suspended flow run without a deployment.")
    timeout = initial.details.pause_timeout
    resumes = proposed.type in {S.RUNNING, S.SCHEDULED}
    if resumes and timeout is not None and timeout < ctx.now:
        failed = new_state(
            S.FAILED, timestamp=ctx.now, message="The flow was paused and never resumed."
        )
        return reject(failed, "The flow run pause has timed out and can no longer resume.")
    if not resumes:
        return None
    policy = replace(run.empirical_policy, resuming=True)
    return proceed(run=replace(run, empirical_policy=policy), revert_if_invalid=True)


def copy_scheduled_time(ctx: Ctx) -> FlowVerdict:
    assert ctx.initial is not None
    scheduled = ctx.initial.details.scheduled_time
    if ctx.proposed.details.scheduled_time is not None or scheduled is None:
        return None
    return proceed(ctx.proposed.with_details(scheduled_time=scheduled))


def wait_for_scheduled_time(ctx: Ctx) -> FlowVerdict:
    assert ctx.initial is not None
    scheduled = ctx.initial.details.scheduled_time
    delay = 0 if scheduled is None else seconds_until(scheduled, ctx.now)
    return wait(delay, "Scheduled time is in the future") if delay > 0 else None


def retry_failed_flows(ctx: Ctx) -> FlowVerdict:
    run, proposed = ctx.run, ctx.proposed
    policy = run.empirical_policy
    if policy.retries is None or run.run_count > policy.retries:
        return proceed(run=replace(run, empirical_policy=replace(policy, retry_type=None)))
    retry_policy = replace(policy, resuming=False, pause_keys=frozenset())
    if is_modern_client(ctx.api_version):
        retry_policy = replace(retry_policy, retry_type="in_process")
    lease = proposed.details.deployment_concurrency_lease_id
    if lease is None and ctx.initial is not None:
        lease = ctx.initial.details.deployment_concurrency_lease_id
    awaiting = new_state(
        S.SCHEDULED,
        "AwaitingRetry",
        timestamp=ctx.now,
        message=proposed.message,
        data=proposed.data,
        scheduled_time=ctx.now + timedelta(seconds=policy.retry_delay or 0),
        deployment_concurrency_lease_id=lease,
    )
    return reject(awaiting, "Retrying", run=replace(run, empirical_policy=retry_policy))


_FINAL = frozenset[StateType | None](TERMINAL_TYPES)
_NOT_CANCELLED = ALL_TYPES - {S.CANCELLED}

PRESERVE_LEASE_ID = FlowRule(
    "PreserveDeploymentConcurrencyLeaseId", ALL_OR_NONE, ALL_TYPES, preserve_lease_id
)
BYPASS_CANCELLING = FlowRule(
    "BypassCancellingFlowRunsWithNoInfra",
    _types(S.SCHEDULED, S.PAUSED),
    frozenset({S.CANCELLING}),
    bypass_cancelling_without_infra,
)
MARK_LATE = FlowRule(
    "EnsureOnlyScheduledFlowsMarkedLate",
    ALL_OR_NONE,
    frozenset({S.SCHEDULED}),
    ensure_only_scheduled_marked_late,
)

#: CoreFlowPolicy (``force=False``), in priority order.
CORE_FLOW_RULES: tuple[FlowRule, ...] = (
    PRESERVE_LEASE_ID,
    FlowRule("PreventDuplicateTransitions", ALL_OR_NONE, ALL_TYPES, prevent_duplicate_transitions),
    FlowRule("HandleFlowTerminalStateTransitions", _FINAL, ALL_TYPES, handle_terminal_transitions),
    FlowRule(
        "EnforceCancellingToCancelledTransition",
        _types(S.CANCELLING),
        _NOT_CANCELLED,
        enforce_cancelling_to_cancelled,
    ),
    BYPASS_CANCELLING,
    FlowRule(
        "PreventPendingTransitions",
        _types(S.PENDING, S.RUNNING, S.CANCELLING, S.CANCELLED),
        frozenset({S.PENDING}),
        prevent_pending_transitions,
    ),
    MARK_LATE,
    FlowRule("HandlePausingFlows", ALL_OR_NONE, frozenset({S.PAUSED}), handle_pausing),
    FlowRule("HandleResumingPausedFlows", _types(S.PAUSED), ALL_TYPES, handle_resuming),
    FlowRule("CopyScheduledTime", _types(S.SCHEDULED), frozenset({S.PENDING}), copy_scheduled_time),
    FlowRule(
        "WaitForScheduledTime",
        _types(S.SCHEDULED, S.PENDING),
        frozenset({S.RUNNING}),
        wait_for_scheduled_time,
    ),
    FlowRule("RetryFailedFlows", _types(S.RUNNING), frozenset({S.FAILED}), retry_failed_flows),
)

#: MinimalFlowPolicy (``force=True``, and the initial state of a new run).
MINIMAL_FLOW_RULES: tuple[FlowRule, ...] = (
    PRESERVE_LEASE_ID,
    FlowRule(
        "PreventResultDataLoss",
        _types(S.COMPLETED),
        frozenset({S.COMPLETED}),
        prevent_result_data_loss,
    ),
    BYPASS_CANCELLING,
)

#: MarkLateRunsPolicy (the late-runs service).
MARK_LATE_FLOW_RULES: tuple[FlowRule, ...] = (MARK_LATE,)


def decide_flow_transition(
    run: FlowRunSnapshot,
    current: State | None,
    proposed: State,
    *,
    now: datetime,
    force: bool = False,
    api_version: ApiVersion | None = None,
    rules: Sequence[FlowRule] | None = None,
) -> Decision[FlowRunSnapshot]:
    """Decide a flow-run state proposal: policy rules, then the global transforms.

    ``rules`` overrides the policy chosen by ``force`` (core or minimal). A proposal
    without a timestamp is stamped with ``now``. Pure: no I/O, no clock reads.
    """
    check_now(now)
    if rules is None:
        rules = MINIMAL_FLOW_RULES if force else CORE_FLOW_RULES
    ctx = Context(run, current, stamp(proposed, now), now, api_version)
    outcome = apply_rules(rules, ctx)
    if outcome.state is None:
        return make_decision(run, outcome, None, outcome.run)
    new_run, state = transform_flow_run(
        outcome.run, current, stamp(outcome.state, now), api_version=api_version
    )
    return make_decision(run, outcome, state, new_run)
