"""A phase run (or a one-component retry or rollback run) moving forward.

`advance_locked(run)` is called with the run's row locked, whenever something changed:
when the run is created, when a component finishes, when an operator cancels, when the
sweeper takes over a dead worker's component. It asks the scheduler what to do next and
applies it: skips, dispatches (each task sent after commit), the abort of the run, and
its end. Every change is a conditional update, so applying the same decision twice
changes nothing the second time.
"""

from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from controlplane import dispatch
from migrations_app import audit, broadcast, transitions
from migrations_app.broadcast import Event
from migrations_app.models import Run
from migrations_app.models.runs import ComponentRun
from migrations_app.roles import SYSTEM
from migrations_app.states import ComponentState

from . import scheduler

S = ComponentRun.State


def advance(run_id: int) -> None:
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        advance_locked(run)


def advance_locked(run: Run, *, finish: bool = True) -> scheduler.Decision | None:
    """Apply the scheduler's next decision for `run`; the caller holds its row lock. With
    `finish=False` the run's end is left for a later call; the decision is returned."""
    if run.state not in Run.ACTIVE_STATES:
        return None
    component_runs = list(run.component_runs.select_related("component").prefetch_related("component__depends_on"))
    decision = scheduler.decide(
        [_node(cr, component_runs) for cr in component_runs], kind=run.kind, stop=run.stop, stop_reason=run.stop_reason
    )
    now = timezone.now()
    if run.state == Run.State.QUEUED:
        set_run(run, "run.started", state=Run.State.RUNNING, started_at=now)
    if decision.abort:
        set_run(run, "run.aborting", state=Run.State.CANCELLING, stop=Run.Stop.ABORT, stop_reason=decision.abort)
    by_id = {cr.pk: cr for cr in component_runs}
    for cr_id, reason in decision.skip.items():
        _skip(by_id[cr_id], reason, now)
    for cr_id in decision.dispatch:
        _dispatch(by_id[cr_id], S.WAITING, S.QUEUED, "run_component", now)
    undo_reason = run.stop_reason or f"rollback requested by {run.triggered_by_name}: {run.reason}".rstrip(": ")
    for cr_id in decision.undo:
        _dispatch(by_id[cr_id], S.COMPLETED, S.UNDO_QUEUED, "run_component_rollback", now, reason=undo_reason)
    if decision.finish and finish:
        set_run(run, f"run.{decision.finish}", state=decision.finish, finished_at=now, summary=decision.summary)
    return decision


def dispatch_task(task_name: str, component_run_id: int) -> None:
    """Send the component's task once the current transaction commits."""
    from . import tasks  # tasks import the engine: imported late to keep the cycle out

    task = getattr(tasks, task_name)
    recovery = "the sweeper sends a component queued long ago and never claimed again"
    transaction.on_commit(partial(dispatch.send, task, (component_run_id,), recovered_by=recovery))


def publish_component_run(cr: ComponentRun) -> None:
    broadcast.publish(
        cr.run.plan_id,
        Event.RUN_CHANGED,
        {"id": cr.run_id, "component": cr.component.name, "component_state": cr.state, "reason": cr.reason},
    )


def _node(cr: ComponentRun, component_runs: list[ComponentRun]) -> scheduler.Node:
    in_run = {other.component_id for other in component_runs}
    inside, blocked_by = [], ""
    for dependency in cr.component.depends_on.all():
        if dependency.pk in in_run:
            inside.append(dependency.name)
        elif dependency.state != ComponentState.COMPLETED and not blocked_by:
            blocked_by = f"depends on {dependency.name}, which is {dependency.get_state_display().lower()}"
    return scheduler.Node(
        id=cr.pk,
        name=cr.component.name,
        risk=cr.component.risk,
        state=cr.state,
        depends_on=tuple(inside),
        blocked_by=blocked_by,
        failed=cr.failed,
        reason=cr.reason,
    )


def _skip(cr: ComponentRun, reason: str, now) -> None:
    if not ComponentRun.objects.filter(pk=cr.pk, state__in=[S.WAITING, S.QUEUED]).update(
        state=S.SKIPPED, reason=reason, finished_at=now
    ):
        return
    cr.state, cr.reason = S.SKIPPED, reason
    component = cr.component
    component.refresh_from_db()
    # Pending components show it on the component too; one rolled back or failed earlier
    # keeps that state, and the run's row says why it was skipped this time.
    if component.state == ComponentState.PENDING:
        transitions.apply(component, ComponentState.SKIPPED, actor=SYSTEM, reason=reason)
    publish_component_run(cr)


def _dispatch(cr: ComponentRun, old: str, new: str, task_name: str, now, reason: str = "") -> None:
    updates = {"state": new, "queued_at": now, "dispatches": F("dispatches") + 1}
    if reason:
        updates["reason"] = reason
    if not ComponentRun.objects.filter(pk=cr.pk, state=old).update(**updates):
        return
    cr.state = new
    dispatch_task(task_name, cr.pk)


def set_run(run: Run, action: str, *, actor=SYSTEM, reason: str = "", **fields) -> None:
    """The one writer of a run's state and fields; the caller holds the run's row lock."""
    before = {name: _json(getattr(run, name)) for name in fields}
    Run.objects.filter(pk=run.pk).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)
    after = {name: _json(value) for name, value in fields.items()}
    reason = reason or fields.get("stop_reason") or fields.get("summary", "")
    audit.record(actor=actor, action=action, target=run, before=before, after=after, reason=reason)
    publish_run(run)


def publish_run(run: Run) -> None:
    broadcast.publish(
        run.plan_id,
        Event.RUN_CHANGED,
        {"id": run.pk, "kind": run.kind, "phase": run.phase_id, "state": run.state, "summary": run.summary},
    )


def _json(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
