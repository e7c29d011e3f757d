"""Operator actions on one component's rollout: start, pause, resume, set percentage, planned
rollback, and the rollout-step approvals. Emergency rollback of a whole plan and clearing
force-original live in emergency.py; the automatic moves in reconcile.py.

Each action checks the actor first, reads health outside the transaction (its figures go
into the audit event), then locks plan and rollout (changes.lock) and changes both epochs.
"""

from django.db import transaction
from django.utils import timezone

from migrations_app import approvals, audit, windows
from migrations_app.errors import Conflict, InvalidInput
from migrations_app.models import Approval, Plan, Rollout
from migrations_app.roles import Actor, Permission
from migrations_app.rollout import changes, decide
from migrations_app.rollout.health import baseline_at_first_traffic, figures, verdict_for
from migrations_app.states import ComponentState, RolloutState

R = RolloutState
PAUSABLE = (R.IDLE, R.PROGRESSING, R.AWAITING_APPROVAL, R.COMPLETED)
ROLLBACKABLE = (R.PROGRESSING, R.AWAITING_APPROVAL, R.PAUSED, R.COMPLETED)


def _state_label(rollout: Rollout) -> str:
    return f"the rollout of {rollout.component.name} is {rollout.get_state_display().lower()}"


def _traffic_blockers(plan: Plan, current: Rollout) -> list[str]:
    component = current.component
    blockers = []
    if component.state != ComponentState.COMPLETED:
        blockers.append(
            f"component {component.name} is {component.get_state_display().lower()}: "
            "traffic can move only once its migration has completed"
        )
    if plan.force_original:
        blockers.append(f"plan {plan.key} has force-original on since an emergency rollback: clear it first (approved)")
    return blockers


def _ready_for_traffic(plan: Plan, current: Rollout) -> None:
    blockers = _traffic_blockers(plan, current)
    if blockers:
        raise Conflict(blockers[0])


def blockers(plan: Plan, rollout: Rollout, *, now) -> dict[str, list[str]]:
    """Why each operator action on the rollout would be refused now ([] when it would not),
    in the words the actions below refuse with; `rollout.component.phase` is read.
    "percentage" covers lowering; raising is also refused where `_ready_for_traffic` is."""
    label = _state_label(rollout)
    phase = rollout.component.phase
    window = windows.rollback_window(phase.promoted_at, phase.rollback_window_hours, now)
    state_blockers = [] if rollout.state in ROLLBACKABLE else [f"{label}: it cannot be rolled back"]
    refused = {
        "start": _traffic_blockers(plan, rollout)
        + (
            []
            if rollout.state in (R.IDLE, R.ROLLED_BACK)
            else [f"{label}: only a rollout not started or rolled back can start"]
        ),
        "pause": [] if rollout.state in PAUSABLE else [f"{label}: it cannot be paused"],
        "resume": ([] if rollout.state == R.PAUSED else [f"{label}: only a paused rollout can resume"])
        + _traffic_blockers(plan, rollout),
        "percentage": [f"{label}: start it again rather than setting a percentage"]
        if rollout.state in (R.ROLLING_BACK, R.ROLLED_BACK)
        else [],
        "planned_rollback": state_blockers
        + ([] if window.open else [f"phase {phase.key}: {window.describe()}; an admin may override it with a reason"]),
        "switches": [],
    }
    if not window.open:
        # Past the window only an admin goes on, with a reason (the caller checks the role).
        refused["planned_rollback_override"] = state_blockers
    return refused


def start_rollout(rollout: Rollout, *, actor: Actor, reason: str = "") -> Rollout:
    """Start (or restart after a rollback) at the first step.

    1. The component's migration has completed, and force-original is off.
    2. The rollout is not started, or rolled back.
    3. It moves to the first step; when that step needs approval, it starts at 0% and asks.
    4. The plan's first traffic rollout also captures the plan's performance baseline.
    """
    actor.require(Permission.OPERATE, "start a rollout")
    health = figures(verdict_for(rollout.component))
    with transaction.atomic():
        plan, current = changes.lock(rollout)
        _ready_for_traffic(plan, current)
        refused = blockers(plan, current, now=timezone.now())["start"]
        if refused:
            raise Conflict(refused[0])
        first = current.steps[0]
        needs_approval = first in current.approval_at
        changes.change(
            current,
            actor=actor,
            action="rollout.started" if current.state == R.IDLE else "rollout.restarted",
            reason=reason,
            data=health,
            state=R.PROGRESSING,
            percentage=0 if needs_approval else first,
            last_reason="",
        )
        if needs_approval:
            request_step(plan, current, first, actor=actor, reason=reason)
    baseline_at_first_traffic(plan, actor, current.component)
    return current


def pause_rollout(rollout: Rollout, *, actor: Actor, reason: str = "") -> Rollout:
    """Hold traffic where it is; automatic moves stop and a pending step approval is invalidated."""
    actor.require(Permission.OPERATE, "pause a rollout")
    health = figures(verdict_for(rollout.component))
    with transaction.atomic():
        plan, current = changes.lock(rollout)
        refused = blockers(plan, current, now=timezone.now())["pause"]
        if refused:
            raise Conflict(refused[0])
        changes.change(
            current,
            actor=actor,
            action="rollout.paused",
            reason=reason,
            data=health,
            state=R.PAUSED,
            last_reason=reason,
        )
        approvals.invalidate(current.approvals.all(), actor=actor, reason="the rollout was paused")
    return current


def resume_rollout(rollout: Rollout, *, actor: Actor, reason: str = "") -> Rollout:
    """Hand a paused rollout back to the controller; its interval starts again from now."""
    actor.require(Permission.OPERATE, "resume a rollout")
    health = figures(verdict_for(rollout.component))
    with transaction.atomic():
        plan, current = changes.lock(rollout)
        refused = blockers(plan, current, now=timezone.now())["resume"]
        if refused:
            raise Conflict(refused[0])
        changes.change(current, actor=actor, action="rollout.resumed", reason=reason, data=health, state=R.PROGRESSING)
    return current


def set_percentage(rollout: Rollout, percentage: int, *, actor: Actor, reason: str) -> Rollout:
    """Set the percentage by hand; the rollout is then paused (resume hands it back).

    Lowering is always possible; raising never passes a step that needs approval, and
    never happens while force-original is on. Pending step approvals are invalidated: they
    approved a move from the old percentage.
    """
    actor.require(Permission.OPERATE, "set a rollout percentage")
    reason = changes.required_reason(reason, "set a rollout percentage")
    if isinstance(percentage, bool) or not isinstance(percentage, int) or not 0 <= percentage <= 100:
        raise InvalidInput(f"percentage: must be a whole number from 0 to 100, not {percentage!r}")
    health = figures(verdict_for(rollout.component))
    with transaction.atomic():
        plan, current = changes.lock(rollout)
        refused = blockers(plan, current, now=timezone.now())["percentage"]
        if refused:
            raise Conflict(refused[0])
        if percentage > current.percentage:
            _ready_for_traffic(plan, current)
            crossed = decide.crossed_approval_step(current.approval_at, current.percentage, percentage)
            if crossed is not None:
                raise Conflict(
                    f"raising {current.component.name} from {current.percentage}% to {percentage}% passes "
                    f"{crossed}%, which needs approval: let the rollout request it"
                )
        changes.change(
            current,
            actor=actor,
            action="rollout.percentage_set",
            reason=reason,
            data=health,
            state=R.PAUSED,
            percentage=percentage,
            last_reason=reason,
        )
        approvals.invalidate(current.approvals.all(), actor=actor, reason=f"the percentage was set to {percentage}%")
    return current


def planned_rollback(rollout: Rollout, *, actor: Actor, reason: str, override_reason: str = "") -> Rollout:
    """Step traffic down through 75, 50, 25, 10, 0, then reverse the component's steps.

    1. Within the phase's rollback window after promotion; after it, only an admin with an
       override reason (audited) may go on.
    2. The first step down happens now; reconcile takes the next ones, one per
       PLANNED_ROLLBACK_STEP_SECONDS, checking health at each (warnings, not stops).
    3. At 0% the component's reverse steps go to the engine (handoff.reverse_component).
    """
    actor.require(Permission.OPERATE, "roll back a component")
    reason = changes.required_reason(reason, "roll back a component")
    override_reason = (override_reason or "").strip()
    health = figures(verdict_for(rollout.component))
    with transaction.atomic():
        plan, current = changes.lock(rollout)
        refused = blockers(plan, current, now=timezone.now())["planned_rollback"]
        if current.state not in ROLLBACKABLE:
            raise Conflict(refused[0])
        phase = current.component.phase
        window = windows.rollback_window(phase.promoted_at, phase.rollback_window_hours, timezone.now())
        if not window.open:
            if not override_reason:
                raise Conflict(f"phase {phase.key}: {window.describe()}; an admin may override it with a reason")
            actor.require(Permission.ADMIN, "override a closed rollback window")
            audit.record(
                actor=actor,
                action="rollout.window_overridden",
                target=current,
                before={"window_closed_at": window.closes_at.isoformat()},
                reason=override_reason,
                data=health,
            )
        first = decide.planned_rollback_steps(current.percentage)[0]
        changes.change(
            current,
            actor=actor,
            action="rollout.planned_rollback_started",
            reason=reason,
            data=health,
            state=R.ROLLING_BACK,
            percentage=first,
            last_reason=f"planned rollback by {actor.name}: {reason}",
        )
        approvals.invalidate(current.approvals.all(), actor=actor, reason="the rollout is being rolled back")
    return current


def set_switches(
    rollout: Rollout, *, fallback: bool | None = None, comparison: bool | None = None, actor: Actor, reason: str
) -> Rollout:
    """Turn fallback (serve the original when the new one errors) or shadow comparison on or off.

    1. The actor may operate; a reason is required; at least one switch, each a boolean.
    2. Lock plan and rollout; a switch already in the asked position is refused (nothing
       would change, and the audit log would say something happened).
    3. Write through `changes.change`: both epochs move (the snapshot's ETag changes), audited.
    4. Pending step approvals are invalidated: they approved a move under the old settings
       (the switches are part of a step's fingerprint).
    """
    actor.require(Permission.OPERATE, "switch fallback or comparison")
    reason = changes.required_reason(reason, "switch fallback or comparison")
    asked = {name: value for name, value in (("fallback", fallback), ("comparison", comparison)) if value is not None}
    if not asked:
        raise InvalidInput("fallback, comparison: give at least one switch, true or false")
    for name, value in asked.items():
        if not isinstance(value, bool):
            raise InvalidInput(f"{name}: must be true or false, not {value!r}")
    with transaction.atomic():
        plan, current = changes.lock(rollout)
        if all(getattr(current, name) == value for name, value in asked.items()):
            said = ", ".join(f"{name} is already {'on' if value else 'off'}" for name, value in asked.items())
            raise Conflict(f"{current.component.name}: {said}")
        words = ", ".join(f"{name} {'on' if value else 'off'}" for name, value in asked.items())
        changes.change(current, actor=actor, action="rollout.switches_set", reason=reason, **asked)
        approvals.invalidate(current.approvals.all(), actor=actor, reason=f"its settings changed: {words}")
    return current


def request_step(plan: Plan, current: Rollout, target: int, *, actor: Actor, reason: str = "") -> Approval:
    """Move a locked, progressing rollout to awaiting approval for `target` and open the request."""
    changes.change(
        current,
        actor=actor,
        action="rollout.awaiting_approval",
        reason=reason or f"{target}% needs approval",
        state=R.AWAITING_APPROVAL,
    )
    phase = current.component.phase
    return approvals.request(
        plan=plan,
        kind=Approval.Kind.ROLLOUT_STEP,
        summary=f"Raise {current.component.name} from {current.percentage}% to {target}% of traffic",
        fingerprint=changes.step_fingerprint(current, target),
        required=phase.approvals_required,
        actor=actor,
        reason=reason,
        rollout=current,
        target_percentage=target,
    )


def _step_fingerprint(approval: Approval) -> str:
    return changes.step_fingerprint(Rollout.objects.get(pk=approval.rollout_id), approval.target_percentage)


def _apply_step(approval: Approval, actor: Actor) -> None:
    plan, current = changes.lock(Rollout.objects.select_related("component").get(pk=approval.rollout_id))
    if current.state != R.AWAITING_APPROVAL:
        raise Conflict(f"{_state_label(current)}: it no longer waits for this approval")
    changes.change(
        current,
        actor=actor,
        action="rollout.approved",
        reason=approval.summary,
        state=R.PROGRESSING,
        percentage=approval.target_percentage,
    )


def _end_step(approval: Approval, actor: Actor, reason: str) -> None:
    plan, current = changes.lock(Rollout.objects.select_related("component").get(pk=approval.rollout_id))
    if current.state == R.AWAITING_APPROVAL:
        changes.change(
            current,
            actor=actor,
            action="rollout.paused",
            reason=f"step approval {approval.state}: {reason}",
            state=R.PAUSED,
            last_reason=f"step approval {approval.state}: {reason}",
        )


STEP_HANDLER = approvals.KindHandler(fingerprint=_step_fingerprint, on_approved=_apply_step, on_ended=_end_step)
