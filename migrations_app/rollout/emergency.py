"""Emergency rollback of a whole plan, its stability verification, and clearing force-original.

One service for the dashboard's button, the API and the automatic health gate. It does not
wait for health queries or anything slow: the data plane sees 0% as soon as it returns.
Rollback windows do not apply: this moves traffic only, it reverses no migration step.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from controlplane import dispatch
from migrations_app import approvals, audit, broadcast
from migrations_app.broadcast import Event
from migrations_app.errors import Conflict
from migrations_app.models import Approval, Plan, Rollout
from migrations_app.models.plan import Stability
from migrations_app.roles import SYSTEM, Actor, Permission
from migrations_app.rollout import changes, decide, notify
from migrations_app.rollout.health import verdict_for
from migrations_app.states import PhaseState, RolloutState

R = RolloutState
LIVE_STATES = (R.PROGRESSING, R.AWAITING_APPROVAL, R.PAUSED, R.COMPLETED, R.ROLLING_BACK)


def _plan_event(plan: Plan) -> dict:
    return {
        "id": plan.pk,
        "force_original": plan.force_original,
        "epoch": plan.epoch,
        "stability": plan.stability,
        "stability_attempts": plan.stability_attempts,
        "stability_passes": plan.stability_passes,
    }


def emergency_rollback(plan: Plan, *, actor: Actor, reason: str, data: dict | None = None) -> Plan:
    """Every rollout of the plan to 0% with force-original and fallback on, in one transaction.

    1. Lock the plan, then its rollouts (in id order).
    2. Each rollout: 0%, fallback on, epoch bumped (so scheduled work no-ops); a live one
       becomes rolled back through its state machine.
    3. The plan: force-original on, epoch bumped (the snapshot's ETag changes), stability
       verification starts; pending approvals of the plan are invalidated.
    4. After commit: the first stability check is scheduled.
    """
    actor.require(Permission.OPERATE, "roll back traffic in an emergency")
    reason = changes.required_reason(reason, "roll back in an emergency")
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        rollouts = list(
            Rollout.objects.select_for_update(of=("self",))
            .select_related("component")
            .filter(component__plan=plan)
            .order_by("pk")
        )
        before = {r.component.name: {"percentage": r.percentage, "state": r.state} for r in rollouts}
        for rollout in rollouts:
            fields = {"percentage": 0, "fallback": True, "last_reason": f"emergency rollback: {reason}"}
            if rollout.state in LIVE_STATES:
                fields["state"] = R.ROLLED_BACK
            changes.change(rollout, actor=actor, action="rollout.emergency_rolled_back", reason=reason, **fields)
        changes.bump_plan(
            plan.pk,
            force_original=True,
            stability=Stability.VERIFYING,
            stability_attempts=0,
            stability_passes=0,
            stability_checked_at=timezone.now(),
        )
        plan.refresh_from_db()
        approvals.invalidate(plan.approvals.all(), actor=actor, reason="emergency rollback")
        audit.record(
            actor=actor,
            action="plan.emergency_rollback",
            target=plan,
            before={"force_original": False, "rollouts": before},
            after={"force_original": True, "rollouts": {name: {"percentage": 0} for name in before}},
            reason=reason,
            data=data,
        )
        broadcast.publish(plan.pk, Event.PLAN_CHANGED, _plan_event(plan))
        epoch = plan.epoch
        transaction.on_commit(lambda: schedule_stability_check(plan.pk, epoch, 1))
    return plan


def schedule_stability_check(plan_id: int, epoch: int, attempt: int) -> None:
    from migrations_app.rollout import tasks  # the tasks module calls back into this one

    dispatch.send(
        tasks.verify_stability,
        (plan_id, epoch, attempt),
        countdown=settings.STABILITY_CHECK_INTERVAL_SECONDS,
        recovered_by="the reconcile beat resumes a stalled verification (resume_stalled)",
    )


def stall_after() -> timedelta:
    """How long a verification may go without a check before its next one is sent again."""
    return timedelta(seconds=3 * settings.STABILITY_CHECK_INTERVAL_SECONDS + 60)


def resume_stalled(now: datetime | None = None) -> list[int]:
    """Send the next check of every verification that has waited too long for it: its task
    was lost (a process stopped while it waited on its countdown, a broker restarted). Level
    triggered, from the reconcile beat; a check sent twice does nothing the second time.
    Returns the plans' ids."""
    deadline = (now or timezone.now()) - stall_after()
    # A verification under way when the mark was added to the schema has none yet.
    overdue = Q(stability_checked_at__lt=deadline) | Q(stability_checked_at__isnull=True)
    stalled = Plan.objects.filter(overdue, stability=Stability.VERIFYING)
    resumed = []
    for plan_id, epoch, attempts in stalled.values_list("pk", "epoch", "stability_attempts"):
        schedule_stability_check(plan_id, epoch, attempts + 1)
        resumed.append(plan_id)
    return resumed


def verify_stability(plan_id: int, epoch: int, attempt: int) -> Plan | None:
    """One stability check after an emergency rollback (3 consecutive healthy, at most 10).

    Claimed with a conditional update on (epoch, attempts so far): a duplicate delivery or
    a check from before a newer rollback does nothing. Each check is audited and published;
    the last one records the result and notifies.
    """
    plan = Plan.objects.filter(pk=plan_id, epoch=epoch, stability=Stability.VERIFYING).first()
    if plan is None or plan.stability_attempts != attempt - 1:
        return None
    problems = {}
    verdicts = {}
    for rollout in Rollout.objects.select_related("component").filter(component__plan=plan).order_by("pk"):
        verdict = verdict_for(rollout.component, window_seconds=settings.STABILITY_WINDOW_SECONDS)
        verdicts[rollout.component.name] = verdict.figures() if verdict is not None else None
        found = decide.stability_problems(verdict, rollout.health)
        if found:
            problems[rollout.component.name] = found
    step = decide.stability_step(attempt, plan.stability_passes, healthy=not problems)
    outcome = Stability.VERIFYING
    if step.finished:
        outcome = Stability.VERIFIED if step.verified else Stability.UNSTABLE
    with transaction.atomic():
        claimed = Plan.objects.filter(
            pk=plan_id, epoch=epoch, stability=Stability.VERIFYING, stability_attempts=attempt - 1
        ).update(
            stability_attempts=attempt,
            stability_passes=step.passes,
            stability=outcome,
            stability_checked_at=timezone.now(),
        )
        if not claimed:
            return None
        plan.refresh_from_db()
        summary = "; ".join(f"{name}: {', '.join(found)}" for name, found in problems.items())
        audit.record(
            actor=SYSTEM,
            action="plan.emergency_stability_check",
            target=plan,
            after={"attempt": attempt, "of": decide.MAX_ATTEMPTS, "healthy": not problems, "passes": step.passes},
            reason=summary,
            data={"health": verdicts},
        )
        broadcast.publish(plan.pk, Event.STABILITY_CHECKED, _plan_event(plan) | {"problems": problems})
        if step.finished:
            audit.record(
                actor=SYSTEM,
                action=f"plan.emergency_stability_{'verified' if step.verified else 'not_verified'}",
                target=plan,
                after={"stability": outcome, "attempts": attempt},
                reason=summary,
                data={"health": verdicts},
            )
            verified = step.verified
            transaction.on_commit(
                lambda: notify.emergency_rollback_finished(plan, verified=verified, problems=problems)
            )
        else:
            transaction.on_commit(lambda: schedule_stability_check(plan_id, epoch, attempt + 1))
    return plan


def _required_approvals(plan: Plan) -> int:
    started = plan.phases.exclude(state=PhaseState.PENDING).values_list("approvals_required", flat=True)
    return max(started, default=1)


def clear_fingerprint(plan: Plan) -> str:
    return changes.fingerprint({"plan": plan.pk, "force_original": plan.force_original, "epoch": plan.epoch})


def clear_blockers(plan: Plan) -> list[str]:
    """Why clearing force-original cannot be requested now ([] when it can)."""
    return [] if plan.force_original else [f"plan {plan.key} does not have force-original on"]


def request_clear_force_original(plan: Plan, *, actor: Actor, reason: str) -> Approval:
    """Ask to let the data plane route to the new implementation again (an approved action)."""
    actor.require(Permission.OPERATE, "request clearing force-original")
    reason = changes.required_reason(reason, "clear force-original")
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        refused = clear_blockers(plan)
        if refused:
            raise Conflict(refused[0])
        return approvals.request(
            plan=plan,
            kind=Approval.Kind.CLEAR_FORCE_ORIGINAL,
            summary=f"Clear force-original on {plan.key}: rollouts stay at 0% until each is started again",
            fingerprint=clear_fingerprint(plan),
            required=_required_approvals(plan),
            actor=actor,
            reason=reason,
        )


def _clear(approval: Approval, actor: Actor) -> None:
    plan = Plan.objects.select_for_update().get(pk=approval.plan_id)
    changes.bump_plan(plan.pk, force_original=False)
    plan.refresh_from_db()
    audit.record(
        actor=actor,
        action="plan.force_original_cleared",
        target=plan,
        before={"force_original": True},
        after={"force_original": False},
        reason=approval.summary,
    )
    broadcast.publish(plan.pk, Event.PLAN_CHANGED, _plan_event(plan))


def _current_clear_fingerprint(approval: Approval) -> str:
    return clear_fingerprint(Plan.objects.get(pk=approval.plan_id))


def _nothing_held(approval: Approval, actor: Actor, reason: str) -> None:
    """Nothing waits on a clear-force-original request: force-original simply stays on."""


CLEAR_HANDLER = approvals.KindHandler(
    fingerprint=_current_clear_fingerprint, on_approved=_clear, on_ended=_nothing_held
)
