"""Operator actions on the engine: start a phase run, retry a component, roll back a
component, cancel a run. The dashboard, the API, the shell and the rollout controller
call these; each checks the actor's role, locks what it changes, is audited in the same
transaction, and is safe to call twice at once (one active run per phase: the second
call gets a Conflict naming the first run)."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from migrations_app import audit, transitions, windows
from migrations_app.errors import Conflict, InvalidInput, NotFound
from migrations_app.models import Component, Phase, Plan, Run
from migrations_app.models.runs import ComponentRun
from migrations_app.roles import Actor, Permission
from migrations_app.states import ComponentState, PhaseState

from . import phaserun

C = ComponentState
# Components a run cannot take forward: an operator has to roll them back (or look) first.
NOT_RUNNABLE = {C.ROLLBACK_FAILED, C.RUNNING, C.ROLLING_BACK}


def start_phase(phase: Phase, *, actor: Actor, reason: str = "") -> Run:
    """Start a run of the phase's components that are not migrated yet.

    1. The actor needs the operator role.
    2. Lock the phase and check its gate: the first phase needs the readiness checklist
       complete, phase N needs phase N-1 promoted.
    3. A pending or rolled-back phase moves to in progress; one already in progress is
       run again for its unfinished components, when no run of it is active.
    4. Create the run, with one row per component to run; a component whose rollback
       failed earlier is skipped, with the reason (and so are its dependents).
    5. Audit, and dispatch the components whose dependencies are met (after commit).
    """
    actor.require(Permission.OPERATE, "start a phase")
    with transaction.atomic():
        phase = Phase.objects.select_for_update().select_related("plan").get(pk=phase.pk)
        todo = [c for c in phase.components.all() if c.state != C.COMPLETED]
        blockers = start_blockers(phase, **_start_facts(phase), unmigrated=len(todo))
        if blockers:
            raise Conflict(blockers[0])
        if phase.state != PhaseState.IN_PROGRESS:
            transitions.apply(
                phase, PhaseState.IN_PROGRESS, actor=actor, reason=reason, started_at=phase.started_at or timezone.now()
            )
        run = _create_run(phase, actor, Run.Kind.PHASE, reason)
        for component in todo:
            row = ComponentRun(run=run, component=component)
            if component.state in NOT_RUNNABLE:
                row.state = ComponentRun.State.SKIPPED
                row.reason = f"it is {component.get_state_display().lower()}: roll it back before running it again"
            row.save()
        audit.record(
            actor=actor, action="run.requested", target=run, reason=reason, data={"components": [c.name for c in todo]}
        )
        phaserun.advance_locked(run)
    return run


def retry_component(component: Component, *, actor: Actor, reason: str = "") -> Run:
    """Run a failed (or rolled-back) component's forward steps again, from the first.

    1. The actor needs the operator role.
    2. Lock its phase: it must be in progress, with no active run.
    3. The component must be failed or rolled back, and its dependencies migrated.
    4. Create a retry run of that component, audit, dispatch (after commit).
    """
    actor.require(Permission.OPERATE, "retry a component")
    with transaction.atomic():
        phase = Phase.objects.select_for_update().get(pk=component.phase_id)
        component = Component.objects.get(pk=component.pk)
        blockers = retry_blockers(
            component, phase, dependencies=list(component.depends_on.all()), active_run=_active_run(phase)
        )
        if blockers:
            raise Conflict(blockers[0])
        run = _create_run(phase, actor, Run.Kind.RETRY, reason, component=component)
        ComponentRun.objects.create(run=run, component=component)
        audit.record(actor=actor, action="component.retry_requested", target=component, reason=reason)
        phaserun.advance_locked(run)
    return run


def rollback_component(component: Component, *, actor: Actor, reason: str, override: bool = False) -> Run:
    """Roll back a migrated component: run the reverse actions of its completed steps,
    last step first, on a worker. Returns the rollback run at once; its state says when
    it is over (`completed`, or `failed` with the component in `rollback_failed`).

    The dashboard calls this for an operator's rollback; the rollout controller calls it
    for a planned rollback, once the component's traffic is at 0%.

    1. The actor needs the operator role; overriding a closed window needs admin and a
       reason.
    2. The component must be completed (or rollback_failed: its remaining reverses run
       again), and every migrated component that depends on it rolled back first.
    3. Its phase's rollback window (windows.rollback_window) must be open, unless
       overridden: the refusal says when it closed.
    4. No other run of its phase may be active.
    5. Create the run, audit (with the override), dispatch (after commit).
    """
    actor.require(Permission.OPERATE, "roll back a component")
    if override:
        actor.require(Permission.ADMIN, "override a closed rollback window")
        if not reason.strip():
            raise InvalidInput("reason: overriding the rollback window needs a reason")
    with transaction.atomic():
        phase = Phase.objects.select_for_update().get(pk=component.phase_id)
        component = Component.objects.get(pk=component.pk)
        window = windows.rollback_window(phase.promoted_at, phase.rollback_window_hours, timezone.now())
        blockers = rollback_blockers(
            component,
            phase,
            dependents=list(component.dependents.all()),
            window=window,
            active_run=_active_run(phase),
            override=override,
        )
        if blockers:
            raise Conflict(blockers[0])
        run = _create_run(phase, actor, Run.Kind.ROLLBACK, reason, component=component)
        ComponentRun.objects.create(run=run, component=component, state=ComponentRun.State.COMPLETED)
        audit.record(
            actor=actor,
            action="component.rollback_overridden" if override and not window.open else "component.rollback_requested",
            target=component,
            reason=reason,
            data={"window": window.describe(), "override": override and not window.open},
        )
        phaserun.advance_locked(run)
    return run


def cancel_run(run: Run, *, actor: Actor, reason: str = "") -> Run:
    """Cancel a run: nothing new starts, running components stop after their current
    step and roll back, and what the run completed is rolled back in reverse dependency
    order. Calling it again while it unwinds changes nothing."""
    actor.require(Permission.OPERATE, "cancel a run")
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        blockers = cancel_blockers(run)
        if blockers:
            raise Conflict(blockers[0])
        if run.stop:
            return run
        words = f"cancelled by {actor.name}" + (f": {reason}" if reason else "")
        phaserun.set_run(
            run,
            "run.cancel_requested",
            actor=actor,
            reason=reason,
            state=Run.State.CANCELLING,
            stop=Run.Stop.CANCEL,
            stop_reason=words,
        )
        phaserun.advance_locked(run)
    return run


# --- Lookups for the API, the dashboard and the shell --------------------------------------


def get_plan(key: str) -> Plan:
    plan = Plan.objects.filter(key=key).first()
    if plan is None:
        raise NotFound(f"no plan {key!r}")
    return plan


def get_phase(plan: Plan, key: str) -> Phase:
    phase = plan.phases.filter(key=key).first()
    if phase is None:
        keys = ", ".join(plan.phases.values_list("key", flat=True))
        raise NotFound(f"plan {plan.key!r} has no phase {key!r} (its phases: {keys})")
    return phase


def get_component(plan: Plan, name: str) -> Component:
    component = plan.components.filter(name=name).first()
    if component is None:
        raise NotFound(f"plan {plan.key!r} has no component {name!r}")
    return component


def get_run(run_id: int) -> Run:
    run = Run.objects.select_related("plan", "phase").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


# --- Checks: what refuses an action, in words; pure, so the dashboard shows the same ------


def start_blockers(phase: Phase, *, previous, unticked: list[str], checklist_size: int, active_run, unmigrated: int):
    """Why the phase cannot start now ([] when it can). `previous` is the phase before it
    (None for the first), `unticked` the readiness checklist's open items, `active_run` its
    active run (or None), `unmigrated` how many of its components are not migrated."""
    blockers = []
    if previous is None and unticked:
        blockers.append(
            f"the readiness checklist is not complete ({len(unticked)} of {checklist_size} items unticked, "
            f"first: {unticked[0]!r}): phase {phase.key!r} cannot start"
        )
    elif previous is not None and previous.state != PhaseState.PROMOTED:
        blockers.append(
            f"phase {previous.key!r} is {previous.get_state_display().lower()}: "
            f"it must be promoted before phase {phase.key!r} starts"
        )
    if active_run is not None:
        blockers.append(_active_message(phase, active_run))
    if phase.state not in (PhaseState.PENDING, PhaseState.ROLLED_BACK, PhaseState.IN_PROGRESS):
        blockers.append(f"phase {phase.key!r} is {phase.get_state_display().lower()}: it cannot be started again")
    elif not unmigrated:
        blockers.append(f"every component of phase {phase.key!r} is migrated: request its promotion")
    return blockers


def retry_blockers(component: Component, phase: Phase, *, dependencies, active_run) -> list[str]:
    """Why the component cannot be retried now ([] when it can)."""
    blockers = []
    if component.state not in (C.FAILED, C.ROLLED_BACK):
        blockers.append(
            f"component {component.name!r} is {component.get_state_display().lower()}: "
            "only a failed or rolled-back component can be retried"
        )
    if phase.state != PhaseState.IN_PROGRESS:
        blockers.append(
            f"phase {phase.key!r} is {phase.get_state_display().lower()}: "
            "components are retried while their phase is in progress"
        )
    missing = [d.name for d in dependencies if d.state != C.COMPLETED]
    if missing:
        blockers.append(f"component {component.name!r} depends on {', '.join(missing)}, not migrated yet")
    if active_run is not None:
        blockers.append(_active_message(phase, active_run))
    return blockers


def rollback_blockers(component: Component, phase: Phase, *, dependents, window, active_run, override: bool):
    """Why the component cannot be rolled back now ([] when it can); a closed window
    blocks unless `override` (an admin's, with a reason)."""
    blockers = []
    if component.state not in (C.COMPLETED, C.ROLLBACK_FAILED):
        blockers.append(
            f"component {component.name!r} is {component.get_state_display().lower()}: "
            "only a migrated component (or one whose rollback failed) can be rolled back"
        )
    migrated = [d.name for d in dependents if d.state in (C.COMPLETED, *NOT_RUNNABLE)]
    if migrated:
        blockers.append(f"roll back {', '.join(migrated)} first: they depend on {component.name!r} and are migrated")
    if not window.open and not override:
        blockers.append(
            f"{window.describe()} (phase {phase.key!r}, {phase.rollback_window_hours} h after promotion); "
            "an admin can override it with a reason"
        )
    if active_run is not None:
        blockers.append(_active_message(phase, active_run))
    return blockers


def cancel_blockers(run: Run) -> list[str]:
    """Why the run cannot be cancelled ([] when it can, or when it is already unwinding)."""
    if run.state not in Run.ACTIVE_STATES:
        return [f"run {run.pk} is {run.get_state_display().lower()}: only an active run can be cancelled"]
    if run.kind == Run.Kind.ROLLBACK:
        return [f"run {run.pk} is a rollback: it cannot be cancelled halfway, let it finish"]
    return []


def _start_facts(phase: Phase) -> dict:
    previous = Phase.objects.filter(plan=phase.plan_id, position__lt=phase.position).order_by("-position").first()
    items = list(phase.plan.checklist.all()) if previous is None else []
    return {
        "previous": previous,
        "unticked": [item.text for item in items if not item.is_checked],
        "checklist_size": len(items),
        "active_run": _active_run(phase),
    }


def _active_run(phase: Phase) -> Run | None:
    return Run.objects.filter(phase=phase, state__in=Run.ACTIVE_STATES).first()


def _active_message(phase: Phase, run: Run) -> str:
    return (
        f"run {run.pk} of phase {phase.key!r} is {run.get_state_display().lower()}: wait for it to finish or cancel it"
    )


def _create_run(phase: Phase, actor: Actor, kind: str, reason: str, component: Component | None = None) -> Run:
    try:
        with transaction.atomic():
            return Run.objects.create(
                plan_id=phase.plan_id,
                phase=phase,
                component=component,
                kind=kind,
                triggered_by=actor.user,
                triggered_by_name=actor.name,
                reason=reason,
            )
    except IntegrityError:
        # The phase lock makes this rare; the partial unique index makes it impossible.
        raise Conflict(f"phase {phase.key!r} already has an active run: wait for it to finish or cancel it") from None
