"""Who may press what, and why not: the same rules the services enforce, said in advance.

`requires` guards views. The `*_gate` functions decide whether a dashboard button is
enabled and, when it is not, say why in words, from values already loaded (no queries
here), so every button a user cannot use is shown disabled with its reason. The services
check again when the button is pressed: a gate is a courtesy, never the protection.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps

from django.core.exceptions import PermissionDenied

from migrations_app.roles import ROLE_REQUIRED_FOR, Actor, Permission
from migrations_app.states import ComponentState, PhaseState, RolloutState
from migrations_app.windows import rollback_window


def actor_for(request) -> Actor:
    actor = getattr(request, "actor", None)
    if actor is None:
        actor = Actor.for_user(request.user)
        request.actor = actor
    return actor


def requires(permission: Permission):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not actor_for(request).can(permission):
                raise PermissionDenied(f"This page needs {ROLE_REQUIRED_FOR[permission]}.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@dataclass(frozen=True)
class Gate:
    allowed: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)

    def __bool__(self):
        return self.allowed


def gate(actor: Actor, permission: Permission, *blockers: str | None) -> Gate:
    """Allowed when the actor has `permission` and nothing blocks; the role comes first
    in the reasons because it is the one thing the user cannot change by waiting."""
    reasons = [] if actor.can(permission) else [f"needs {ROLE_REQUIRED_FOR[permission]}"]
    reasons += [b for b in blockers if b]
    return Gate(allowed=not reasons, reasons=reasons)


def missing(service_available: bool, part: str) -> str | None:
    return None if service_available else f"{part} is not installed in this build"


# --- Readiness checklist -------------------------------------------------------------------


def checklist_gate(actor: Actor, first_phase) -> Gate:
    closed = None
    if first_phase is not None and first_phase.state != PhaseState.PENDING:
        closed = f"the checklist closed when {first_phase.name} started"
    if not actor.is_person:
        closed = closed or "only a person ticks the checklist"
    return gate(actor, Permission.OPERATE, closed)


# --- Phases --------------------------------------------------------------------------------


def start_phase_gate(actor: Actor, phase, previous, *, checklist_done: bool, active_run, available: bool) -> Gate:
    blockers = []
    if phase.state not in (PhaseState.PENDING, PhaseState.ROLLED_BACK):
        blockers.append(f"the phase is {phase.get_state_display().lower()}")
    elif previous is None and not checklist_done:
        blockers.append("the readiness checklist is not complete")
    elif previous is not None and previous.state != PhaseState.PROMOTED:
        blockers.append(f"{previous.name} is not promoted yet ({previous.get_state_display().lower()})")
    if active_run is not None:
        blockers.append(f"run {active_run.pk} is {active_run.get_state_display().lower()}")
    blockers.append(missing(available, "the migration engine"))
    return gate(actor, Permission.OPERATE, *blockers)


def promotion_checks(phase, components) -> list[tuple[str, bool]]:
    """The gates of a phase promotion, each met or not, for the stepper and approval page."""
    checks = []
    unfinished = [c.name for c in components if c.state != ComponentState.COMPLETED]
    checks.append(
        (
            "every component migrated" + (f" (not yet: {', '.join(unfinished)})" if unfinished else ""),
            not unfinished,
        )
    )
    traffic = [c for c in components if c.traffic]
    below = [f"{c.name} at {c.rollout.percentage}%" for c in traffic if c.rollout.percentage < 100]
    if traffic:
        checks.append(("traffic components at 100%" + (f" (not yet: {', '.join(below)})" if below else ""), not below))
    return checks


def request_promotion_gate(actor: Actor, phase, components, *, available: bool) -> Gate:
    blockers = []
    if phase.state != PhaseState.IN_PROGRESS:
        blockers.append(f"the phase is {phase.get_state_display().lower()}")
    else:
        blockers += [f"not met: {label}" for label, met in promotion_checks(phase, components) if not met]
    blockers.append(missing(available, "the rollout controller"))
    return gate(actor, Permission.OPERATE, *blockers)


# --- Components ----------------------------------------------------------------------------

RETRYABLE = (ComponentState.FAILED, ComponentState.ROLLED_BACK, ComponentState.SKIPPED)
ROLLBACKABLE = (ComponentState.COMPLETED, ComponentState.FAILED, ComponentState.ROLLBACK_FAILED)


def retry_gate(actor: Actor, component, *, active_run, available: bool) -> Gate:
    blockers = []
    if component.state not in RETRYABLE:
        blockers.append(f"it is {component.get_state_display().lower()}; only a failed, skipped or rolled back one")
    if component.phase.state != PhaseState.IN_PROGRESS:
        blockers.append(f"{component.phase.name} is {component.phase.get_state_display().lower()}")
    if active_run is not None:
        blockers.append(f"run {active_run.pk} is {active_run.get_state_display().lower()}")
    blockers.append(missing(available, "the migration engine"))
    return gate(actor, Permission.OPERATE, *blockers)


def rollback_gate(actor: Actor, component, *, now: datetime, active_run, available: bool) -> Gate:
    blockers = []
    if component.state not in ROLLBACKABLE:
        blockers.append(f"it is {component.get_state_display().lower()}; nothing to roll back")
    phase = component.phase
    window = rollback_window(phase.promoted_at, phase.rollback_window_hours, now)
    if not window.open and not actor.can(Permission.ADMIN):
        blockers.append(f"{window.describe()}; only an admin may override, with a reason")
    if active_run is not None:
        blockers.append(f"run {active_run.pk} is {active_run.get_state_display().lower()}")
    blockers.append(missing(available, "the migration engine"))
    return gate(actor, Permission.OPERATE, *blockers)


# --- Rollouts ------------------------------------------------------------------------------


def rollout_gates(actor: Actor, rollout, component, *, available: bool) -> dict[str, Gate]:
    absent = missing(available, "the rollout controller")
    startable = rollout.state in (RolloutState.IDLE, RolloutState.ROLLED_BACK)
    start_blockers = [None if startable else f"the rollout is {rollout.get_state_display().lower()}", absent]
    if startable and component.state != ComponentState.COMPLETED:
        start_blockers.insert(0, f"{component.name} is not migrated yet ({component.get_state_display().lower()})")
    pausable = rollout.state in (RolloutState.PROGRESSING, RolloutState.AWAITING_APPROVAL, RolloutState.COMPLETED)
    return {
        "start": gate(actor, Permission.OPERATE, *start_blockers),
        "pause": gate(actor, Permission.OPERATE, None if pausable else "it is not moving", absent),
        "resume": gate(
            actor, Permission.OPERATE, None if rollout.state == RolloutState.PAUSED else "it is not paused", absent
        ),
    }


# --- Approvals -----------------------------------------------------------------------------


def approval_gates(actor: Actor, approval, votes, *, now: datetime, available: bool) -> dict[str, Gate]:
    """Approve and reject. Four eyes: the requester never approves their own request."""
    blockers = []
    if approval.state != "pending":
        blockers.append(f"the request is {approval.get_state_display().lower()}")
    elif approval.expires_at <= now:
        blockers.append(f"the request expired at {approval.expires_at:%Y-%m-%d %H:%M} UTC")
    if actor.is_person and approval.requested_by_id is not None and approval.requested_by_id == actor.user.pk:
        blockers.append("you requested it: another approver must decide (four eyes)")
    absent = missing(available, "the rollout controller")
    voted = next((v for v in votes if actor.is_person and v.approver_id == actor.user.pk), None)
    already = f"you approved it at {voted.at:%Y-%m-%d %H:%M} UTC" if voted else None
    return {
        "approve": gate(actor, Permission.APPROVE, *blockers, already, absent),
        "reject": gate(actor, Permission.APPROVE, *blockers, absent),
    }


def emergency_gate(actor: Actor) -> Gate:
    # Never blocked by state: the red button must work whatever else is going on.
    return gate(actor, Permission.OPERATE)
