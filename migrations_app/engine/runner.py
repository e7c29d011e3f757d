"""A component run: what a worker does with one component of a run.

Forward (`run_forward`): its steps in order. If a step fails, the component fails and the
reverse actions of the steps it completed run, last first; if the run is being cancelled
or aborted, it stops after the current step and reverses the same way.

Undo (`run_undo`): the reverse actions of the steps it completed, last first: for a
completed component that a cancelled or aborted run unwinds, an operator's rollback, or a
component whose worker died mid-step (the sweeper sends it down its failure path).

Both start by claiming the ComponentRun with a conditional update, so a task delivered
twice does its work once, and both end by recording the outcome and letting the run go
on (`phaserun.advance_locked`) in one transaction under the run's lock. Anything else
that breaks a task (the database gone, a bug) ends it with its lease left to run out:
the sweeper then sends the component down its failure path.
"""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from migrations_app import transitions
from migrations_app.models import Component, Run, StepAttempt
from migrations_app.models.runs import ComponentRun
from migrations_app.roles import SYSTEM
from migrations_app.states import ComponentState

from . import attempts, config, phaserun
from .attempts import Heartbeat, LeaseLost

logger = logging.getLogger(__name__)
S = ComponentRun.State
C = ComponentState
Direction = StepAttempt.Direction


def run_forward(component_run_id: int) -> None:
    """The task body for a queued component.

    1. Claim it (queued -> running) under the run's lock; a run that is stopping skips it.
    2. Move the component to running; run its forward steps in order, checking before
       each one whether the run is being cancelled or aborted.
    3. All steps done: the component is completed.
    4. A step failed: the component fails, then its completed steps are reversed.
       Stopped by the run: the component rolls back the same way.
    5. Record the outcome and advance the run, in one transaction.
    """
    cr = _claim(component_run_id, S.QUEUED, S.RUNNING)
    if cr is None:
        return
    run, component = cr.run, cr.component
    try:
        with Heartbeat(cr.pk, S.RUNNING) as heartbeat:
            transitions.apply(component, C.RUNNING, actor=SYSTEM, reason=_why(run))
            failed, stopped = None, False
            for step in component.steps.all():
                if _stopping(run.pk):
                    stopped = True
                    break
                attempt = attempts.run_step(cr, run, step, Direction.FORWARD, heartbeat)
                if attempt.status == StepAttempt.Status.FAILED:
                    failed = attempt
                    break
            if failed is None and not stopped:
                _settle(cr, S.RUNNING, S.COMPLETED, C.COMPLETED, reason="")
                return
            if failed is not None:
                reason = f"step {failed.step.position + 1} {failed.step.name!r} failed: {failed.error_message}"
                transitions.apply(component, C.FAILED, actor=SYSTEM, reason=reason, last_error=reason)
                ComponentRun.objects.filter(pk=cr.pk, state=S.RUNNING).update(failed=True, reason=reason)
                cr.failed = True
            else:
                reason = f"stopped by the run: {_stop_words(run.pk)}"
                transitions.apply(component, C.ROLLING_BACK, actor=SYSTEM, reason=reason)
            _reverse_and_settle(cr, S.RUNNING, heartbeat, reason)
    except LeaseLost as lost:
        logger.warning("%s; leaving component run %s to the sweeper's failure path", lost, cr.pk)


def run_undo(component_run_id: int) -> None:
    """The task body for a component queued for rollback: claim it (undo_queued ->
    undoing), reverse its completed steps, last first, record the outcome, advance."""
    cr = _claim(component_run_id, S.UNDO_QUEUED, S.UNDOING)
    if cr is None:
        return
    try:
        with Heartbeat(cr.pk, S.UNDOING) as heartbeat:
            reason = cr.reason or f"rolled back by {_why(cr.run)}"
            _reverse_and_settle(cr, S.UNDOING, heartbeat, reason)
    except LeaseLost as lost:
        logger.warning("%s; leaving component run %s to the sweeper", lost, cr.pk)


def applied_attempts(component: Component) -> list[StepAttempt]:
    """The completed forward attempts not yet reversed, one per step, last step first:
    what a rollback of the component has to undo."""
    seen, result = set(), []
    completed = StepAttempt.objects.filter(
        component=component, direction=Direction.FORWARD, status=StepAttempt.Status.COMPLETED
    )
    for attempt in completed.select_related("step").order_by("-step__position", "-started_at"):
        if attempt.step_id not in seen:
            seen.add(attempt.step_id)
            result.append(attempt)
    return result


def _reverse_and_settle(cr: ComponentRun, held: str, heartbeat: Heartbeat, reason: str) -> None:
    component = Component.objects.get(pk=cr.component_id)
    todo = [a for a in applied_attempts(component) if a.step.has_reverse]
    done_state = S.FAILED if cr.failed else S.ROLLED_BACK
    if not todo and component.state == C.FAILED:
        _settle(cr, held, done_state, C.ROLLED_BACK, reason=reason)  # failed at its first step
        return
    if component.state != C.ROLLING_BACK:
        transitions.apply(component, C.ROLLING_BACK, actor=SYSTEM, reason=reason)
    for forward in todo:
        attempt = attempts.run_step(cr, cr.run, forward.step, Direction.REVERSE, heartbeat)
        if attempt.status == StepAttempt.Status.FAILED:
            error = f"reverse of step {forward.step.position + 1} {forward.step.name!r} failed: {attempt.error_message}"
            _settle(cr, held, S.ROLLBACK_FAILED, C.ROLLBACK_FAILED, reason=error, last_error=error)
            return
        StepAttempt.objects.filter(pk=forward.pk, status=StepAttempt.Status.COMPLETED).update(
            status=StepAttempt.Status.ROLLED_BACK
        )
    _settle(cr, held, done_state, C.ROLLED_BACK, reason=reason)


def _claim(component_run_id: int, queued: str, running: str) -> ComponentRun | None:
    # Every receipt counts, before anything can crash: a message that kills its worker
    # before the claim is not redelivered forever.
    ComponentRun.objects.filter(pk=component_run_id).update(deliveries=F("deliveries") + 1)
    with transaction.atomic():
        run_id = ComponentRun.objects.filter(pk=component_run_id).values_list("run_id", flat=True).first()
        if run_id is None:
            return None
        run = Run.objects.select_for_update().get(pk=run_id)
        cr = ComponentRun.objects.select_related("component").get(pk=component_run_id)
        if cr.state != queued:
            logger.info("component run %s is %s, not %s: nothing to do", cr.pk, cr.state, queued)
            return None
        now = timezone.now()
        if queued == S.QUEUED and (run.stop or cr.deliveries > config.MAX_DELIVERIES):
            why = run.stop_reason or f"received {cr.deliveries} times without starting; see the worker logs"
            ComponentRun.objects.filter(pk=cr.pk).update(state=S.SKIPPED, reason=why, finished_at=now)
            phaserun.advance_locked(run)
            return None
        updates = {"state": running, "worker": attempts.worker_name(), "lease_expires_at": attempts.lease_until()}
        if cr.started_at is None:
            updates["started_at"] = now
        ComponentRun.objects.filter(pk=cr.pk, state=queued).update(**updates)
        for name, value in updates.items():
            setattr(cr, name, value)
        cr.run = run
    return cr


def _settle(cr: ComponentRun, held: str, state: str, component_state: str, *, reason: str, **component_fields):
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=cr.run_id)
        updated = ComponentRun.objects.filter(pk=cr.pk, state=held).update(
            state=state, reason=reason, finished_at=timezone.now(), lease_expires_at=None
        )
        if not updated:
            raise LeaseLost(f"component run {cr.pk} is no longer {held}")
        cr.state, cr.reason, cr.run = state, reason, run
        # Dispatch first: after-commit callbacks run in order, so the next components' tasks
        # leave before this component's change is broadcast. The run's end, if this was its
        # last component, is recorded after the component's own change.
        decision = phaserun.advance_locked(run, finish=False)
        component = cr.component
        component.refresh_from_db(fields=["state"])
        if component.state != component_state:
            transitions.apply(component, component_state, actor=SYSTEM, reason=reason or _why(run), **component_fields)
        phaserun.publish_component_run(cr)
        if decision is not None and decision.finish:
            phaserun.advance_locked(run)


def _stopping(run_id: int) -> bool:
    return Run.objects.filter(pk=run_id).exclude(stop=Run.Stop.NONE).exists()


def _stop_words(run_id: int) -> str:
    return Run.objects.values_list("stop_reason", flat=True).get(pk=run_id)


def _why(run: Run) -> str:
    return f"run {run.pk} ({run.get_kind_display().lower()} started by {run.triggered_by_name})"
