"""The sweeper (every few seconds on the control queue): what crashed workers left.

1. A component whose lease ran out lost its worker mid-way. Its running step attempt is
   marked `interrupted` (never run again: it may have been partly applied), and the
   component takes its failure path: forward, its completed steps are reversed by another
   worker; in reverse, it is marked rollback_failed for an operator to look at.
2. A component queued long ago and never claimed (its message lost) is sent again, at
   most MAX_DISPATCHES times in all; a duplicate does nothing, the claim sees to that.
3. An active run with nothing in flight (a crash between two of its transactions) is
   advanced.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from migrations_app import transitions
from migrations_app.models import Component, Run, StepAttempt
from migrations_app.models.runs import ComponentRun
from migrations_app.roles import SYSTEM
from migrations_app.states import ComponentState

from . import config, phaserun

logger = logging.getLogger(__name__)
S = ComponentRun.State


def sweep() -> dict:
    now = timezone.now()
    expired = ComponentRun.objects.filter(state__in=[S.RUNNING, S.UNDOING], lease_expires_at__lt=now)
    taken = sum(take_over(pk, now) for pk in expired.values_list("pk", flat=True))
    resent = _redispatch(now)
    stalled = Run.objects.filter(state__in=Run.ACTIVE_STATES).exclude(component_runs__state__in=ComponentRun.IN_FLIGHT)
    for run_id in stalled.values_list("pk", flat=True):
        phaserun.advance(run_id)
    return {"interrupted": taken, "redispatched": resent}


def take_over(component_run_id: int, now) -> bool:
    """Send a component whose worker died down its failure path; False if it turned out
    to be alive (its lease was renewed meanwhile) or already settled."""
    with transaction.atomic():
        cr = ComponentRun.objects.select_related("component", "run").get(pk=component_run_id)
        run = Run.objects.select_for_update().get(pk=cr.run_id)
        cr = ComponentRun.objects.select_related("component").select_for_update().get(pk=component_run_id)
        if cr.state not in (S.RUNNING, S.UNDOING) or cr.lease_expires_at is None or cr.lease_expires_at >= now:
            return False
        step_words, in_reverse = _interrupt_attempts(cr, run, now)
        message = f"{step_words} was interrupted: its worker {cr.worker} stopped (lease ran out); not run again"
        component = Component.objects.get(pk=cr.component_id)
        if cr.state == S.RUNNING and not in_reverse:
            # Died going forward: its completed steps are reversed by another worker.
            ComponentRun.objects.filter(pk=cr.pk).update(
                state=S.UNDO_QUEUED,
                failed=True,
                reason=message,
                queued_at=now,
                lease_expires_at=None,
                dispatches=F("dispatches") + 1,
            )
            if component.state == ComponentState.RUNNING:
                transitions.apply(component, ComponentState.FAILED, actor=SYSTEM, reason=message, last_error=message)
            phaserun.dispatch_task("run_component_rollback", cr.pk)
        else:
            # Died while reversing: running that reverse again could undo twice; a person decides.
            ComponentRun.objects.filter(pk=cr.pk).update(
                state=S.ROLLBACK_FAILED, reason=message, finished_at=now, lease_expires_at=None
            )
            if component.state == ComponentState.ROLLING_BACK:
                transitions.apply(
                    component, ComponentState.ROLLBACK_FAILED, actor=SYSTEM, reason=message, last_error=message
                )
        cr.refresh_from_db()
        phaserun.publish_component_run(cr)
        phaserun.advance_locked(run)
    logger.warning("component run %s: %s", cr.pk, message)
    return True


def _interrupt_attempts(cr: ComponentRun, run: Run, now) -> tuple[str, bool]:
    """Mark the component's running attempts interrupted; returns the last one in words,
    and whether it was a reverse action."""
    started = StepAttempt.objects.select_related("step").filter(
        run=run, component_id=cr.component_id, status=StepAttempt.Status.STARTED
    )
    words, in_reverse = "between two steps, the component", False
    for attempt in started:
        StepAttempt.objects.filter(pk=attempt.pk, status=StepAttempt.Status.STARTED).update(
            status=StepAttempt.Status.INTERRUPTED,
            finished_at=now,
            lease_expires_at=None,
            duration_ms=int((now - attempt.started_at).total_seconds() * 1000),
            error_message=(
                f"the worker running this step ({attempt.worker}) stopped: its lease ran out. "
                "The step was not run again; it may have been partly applied."
            ),
        )
        in_reverse = attempt.direction == StepAttempt.Direction.REVERSE
        words = f"{'reverse of step' if in_reverse else 'step'} {attempt.step.position + 1} {attempt.step.name!r}"
    return words, in_reverse


def _redispatch(now) -> int:
    cutoff = now - timedelta(seconds=config.REDISPATCH_AFTER_SECONDS)
    stale = ComponentRun.objects.filter(
        state__in=[S.QUEUED, S.UNDO_QUEUED], queued_at__lt=cutoff, dispatches__lt=config.MAX_DISPATCHES
    )
    count = 0
    for cr in stale:
        with transaction.atomic():
            if ComponentRun.objects.filter(pk=cr.pk, state=cr.state, dispatches=cr.dispatches).update(
                dispatches=F("dispatches") + 1, queued_at=now
            ):
                task = "run_component" if cr.state == S.QUEUED else "run_component_rollback"
                phaserun.dispatch_task(task, cr.pk)
                count += 1
    return count
