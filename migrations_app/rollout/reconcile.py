"""The level-triggered controller: beat asks every few seconds, each active rollout is
looked at under the epoch it had when it was asked about.

`reconcile` reads the rollout and its health without locks, asks decide.py, then applies
the answer in a transaction that locks plan and rollout and re-checks the epoch: anything
decided before a change (an operator's pause, an emergency rollback, a duplicate delivery)
does nothing after it.
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from migrations_app import approvals
from migrations_app.models import Plan, Rollout
from migrations_app.roles import SYSTEM
from migrations_app.rollout import changes, decide, handoff, notify, services
from migrations_app.rollout.decide import Action, Decision
from migrations_app.rollout.emergency import emergency_rollback
from migrations_app.rollout.health import figures, verdict_for
from migrations_app.states import RolloutState
from migrations_app.timescale import scaled

R = RolloutState
ACTIVE = (R.PROGRESSING, R.AWAITING_APPROVAL, R.ROLLING_BACK)


def due() -> list[tuple[int, int]]:
    """(rollout id, epoch) of every rollout the controller should look at now."""
    return list(Rollout.objects.filter(state__in=ACTIVE).order_by("pk").values_list("pk", "epoch"))


def view_of(rollout: Rollout) -> decide.RolloutView:
    moments = [m for m in (rollout.percentage_changed_at, rollout.state_changed_at) if m is not None]
    return decide.RolloutView(
        state=rollout.state,
        percentage=rollout.percentage,
        steps=tuple(rollout.steps),
        approval_at=tuple(rollout.approval_at),
        interval_seconds=scaled(rollout.interval_seconds),
        since=max(moments) if moments else None,
    )


def reconcile(rollout_id: int, epoch: int, *, now: datetime | None = None, health=verdict_for) -> Decision | None:
    """Decide and apply one move of one rollout; None when the epoch is stale (nothing done)."""
    now = now or timezone.now()
    rollout = Rollout.objects.select_related("component__plan").filter(pk=rollout_id).first()
    if rollout is None or rollout.epoch != epoch:
        return None
    view = view_of(rollout)
    if rollout.state == R.ROLLING_BACK:
        decision = decide.decide_planned_step(view, settings.PLANNED_ROLLBACK_STEP_SECONDS, now)
        # Health is checked at each step down, as a warning: it never stops the rollback.
        verdict = health(rollout.component) if decision.action != Action.WAIT else None
    else:
        verdict = health(rollout.component)
        decision = decide.decide(view, verdict, now)
    if decision.action == Action.WAIT:
        return decision
    with transaction.atomic():
        plan, current = changes.lock(rollout)
        if current.epoch != epoch:
            return None
        _apply(plan, current, decision, verdict)
    return decision


def _apply(plan: Plan, current: Rollout, decision: Decision, verdict) -> None:
    health = figures(verdict)
    if decision.action == Action.ADVANCE:
        changes.change(
            current,
            actor=SYSTEM,
            action="rollout.advanced",
            reason=decision.reason,
            data=health,
            percentage=decision.target,
        )
    elif decision.action == Action.REQUEST_APPROVAL:
        services.request_step(plan, current, decision.target, actor=SYSTEM, reason=decision.reason)
    elif decision.action == Action.COMPLETE:
        changes.change(
            current, actor=SYSTEM, action="rollout.completed", reason=decision.reason, data=health, state=R.COMPLETED
        )
    elif decision.action == Action.ROLL_BACK:
        _roll_back(plan, current, decision, verdict)
    elif decision.action == Action.STEP_DOWN:
        warnings = decide.health_warnings(verdict)
        changes.change(
            current,
            actor=SYSTEM,
            action="rollout.stepped_down",
            reason=decision.reason,
            data=health | {"warnings": warnings},
            percentage=decision.target,
        )
    elif decision.action == Action.FINISH_ROLLBACK:
        warnings = decide.health_warnings(verdict)
        reason = current.last_reason or decision.reason
        changes.change(
            current,
            actor=SYSTEM,
            action="rollout.planned_rollback_finished",
            reason=reason,
            data=health | {"warnings": warnings},
            state=R.ROLLED_BACK,
            percentage=0,
        )
        component = current.component
        transaction.on_commit(lambda: handoff.reverse_component(component, actor=SYSTEM, reason=reason))


def _roll_back(plan: Plan, current: Rollout, decision: Decision, verdict) -> None:
    """The health gate failed: roll back this component, or the whole plan if it says so."""
    data = verdict.figures() if verdict is not None else None
    if plan.auto_rollback == Plan.AutoRollback.PLAN:
        reason = f"{current.component.name}: {decision.reason}"
        emergency_rollback(plan, actor=SYSTEM, reason=reason, data={"health": data})
        transaction.on_commit(lambda: notify.automatic_rollback(plan, component=None, reason=reason, figures=data))
        return
    changes.change(
        current,
        actor=SYSTEM,
        action="rollout.auto_rolled_back",
        reason=decision.reason,
        data={"health": data},
        state=R.ROLLED_BACK,
        percentage=0,
        fallback=True,
        last_reason=decision.reason,
    )
    approvals.invalidate(current.approvals.all(), actor=SYSTEM, reason="the health gate rolled the rollout back")
    component = current.component
    transaction.on_commit(
        lambda: notify.automatic_rollback(plan, component=component, reason=decision.reason, figures=data)
    )
