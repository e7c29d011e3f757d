"""Who may press what, and why not, said in advance.

`requires` guards views. The `*_gate` functions decide whether a dashboard button is
enabled and, when it is not, say why: the role first, then the refusals of the service
the button calls, from that service's own check function (engine.start_blockers,
promotion.request_blockers, rollout.services.blockers, approvals.blockers...), given
values the page already loaded. The services check again when the button is pressed: a
gate is a courtesy, never the protection.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps

from django.core.exceptions import PermissionDenied

from migrations_app import approvals, checklist, promotion
from migrations_app.engine import services as engine
from migrations_app.roles import ROLE_REQUIRED_FOR, Actor, Permission
from migrations_app.rollout import emergency
from migrations_app.rollout import services as rollout_services
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


# --- Readiness checklist -------------------------------------------------------------------


def checklist_gate(actor: Actor, first_phase) -> Gate:
    blockers = list(checklist.closed_blockers(first_phase))
    if not actor.is_person:
        blockers.append("only a person ticks the checklist")
    return gate(actor, Permission.OPERATE, *blockers)


# --- Phases --------------------------------------------------------------------------------


def start_phase_gate(actor: Actor, phase, previous, *, checklist_items, active_run, unmigrated: int) -> Gate:
    unticked = [item.text for item in checklist_items if not item.is_checked] if previous is None else []
    blockers = engine.start_blockers(
        phase,
        previous=previous,
        unticked=unticked,
        checklist_size=len(checklist_items),
        active_run=active_run,
        unmigrated=unmigrated,
    )
    return gate(actor, Permission.OPERATE, *blockers)


def request_promotion_gate(actor: Actor, phase, gates) -> Gate:
    """`gates`: promotion.check_gates(phase), the gates the request itself checks."""
    return gate(actor, Permission.OPERATE, *promotion.request_blockers(phase, gates))


# --- Components ----------------------------------------------------------------------------


def retry_gate(actor: Actor, component, *, active_run) -> Gate:
    blockers = engine.retry_blockers(
        component, component.phase, dependencies=component.depends_on.all(), active_run=active_run
    )
    return gate(actor, Permission.OPERATE, *blockers)


def rollback_gate(actor: Actor, component, *, now: datetime, active_run) -> Gate:
    phase = component.phase
    blockers = engine.rollback_blockers(
        component,
        phase,
        dependents=component.dependents.all(),
        window=rollback_window(phase.promoted_at, phase.rollback_window_hours, now),
        active_run=active_run,
        override=False,
    )
    return gate(actor, Permission.OPERATE, *blockers)


def rollback_override_gate(actor: Actor, component, *, now: datetime, active_run) -> Gate | None:
    """Rolling back after the phase's window closed: an admin's, with a reason. None while
    the window is open (the plain rollback button is the one to use)."""
    phase = component.phase
    window = rollback_window(phase.promoted_at, phase.rollback_window_hours, now)
    if window.open:
        return None
    blockers = engine.rollback_blockers(
        component,
        phase,
        dependents=component.dependents.all(),
        window=window,
        active_run=active_run,
        override=True,
    )
    return gate(actor, Permission.ADMIN, *blockers)


def cancel_gate(actor: Actor, run) -> Gate:
    return gate(actor, Permission.OPERATE, *engine.cancel_blockers(run))


# --- Rollouts ------------------------------------------------------------------------------


def rollout_gates(actor: Actor, plan, rollout, *, now: datetime) -> dict[str, Gate]:
    """Start, pause, resume, percentage, planned rollback (and its admin override after the
    window) and the switches of one rollout."""
    refused = rollout_services.blockers(plan, rollout, now=now)
    needs = {"planned_rollback_override": Permission.ADMIN}
    return {
        action: gate(actor, needs.get(action, Permission.OPERATE), *blockers) for action, blockers in refused.items()
    }


# --- Approvals -----------------------------------------------------------------------------


def approval_gates(actor: Actor, approval, voter_ids: set[int], *, now: datetime) -> dict[str, Gate]:
    """Approve and reject. Four eyes: the requester never approves their own request."""
    refused = approvals.blockers(approval, actor, voter_ids=voter_ids, now=now)
    person = None if actor.is_person else "only a person decides (a login or a personal token)"
    return {action: gate(actor, Permission.APPROVE, *blockers, person) for action, blockers in refused.items()}


# --- Plan-wide -----------------------------------------------------------------------------


def emergency_gate(actor: Actor) -> Gate:
    # Never blocked by state: the red button must work whatever else is going on.
    return gate(actor, Permission.OPERATE)


def clear_force_original_gate(actor: Actor, plan, pending) -> Gate:
    """`pending`: the clear-force-original request already waiting, if any."""
    waiting = f"request {pending.pk} already waits for approval" if pending is not None else None
    return gate(actor, Permission.OPERATE, *emergency.clear_blockers(plan), waiting)


def acknowledge_gate(actor: Actor, alert) -> Gate:
    taken = f"acknowledged by {alert.acknowledged_by}" if alert.acknowledged_by else None
    person = None if actor.is_person else "only a person acknowledges an alert"
    return gate(actor, Permission.OPERATE, taken, person)


def simulator_gate(actor: Actor) -> Gate:
    return gate(actor, Permission.OPERATE)
