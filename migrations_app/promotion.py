"""Phase promotion: gates, the request, and the move once approved.

A phase in progress may ask for promotion when every gate passes; the answer names each
gate that fails. The request waits for the phase's approvals (approvals.py); approving it
moves the phase from awaiting approval to promoted and starts its rollback window.
"""

from dataclasses import dataclass

from django.db import transaction
from django.template.defaultfilters import pluralize
from django.utils import timezone

from migrations_app import approvals, transitions
from migrations_app.errors import Conflict, NotFound
from migrations_app.models import Approval, Phase, Plan
from migrations_app.roles import Actor, Permission
from migrations_app.rollout.changes import fingerprint
from migrations_app.states import ComponentState, PhaseState


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str


class GatesFailed(Conflict):
    def __init__(self, phase: Phase, gates: list[Gate]):
        failing = [gate for gate in gates if not gate.passed]
        super().__init__(
            f"phase {phase.key} cannot be promoted: " + "; ".join(f"{g.name}: {g.detail}" for g in failing)
        )
        self.gates = gates


def _components(phase: Phase):
    return list(phase.components.select_related("rollout").order_by("position"))


def all_components_migrated(phase: Phase) -> Gate:
    behind = [f"{c.name} ({c.get_state_display().lower()})" for c in _components(phase) if c.state != "completed"]
    return Gate("all components migrated", not behind, ", ".join(behind) or "every component is migrated")


def _serving(components) -> list:
    """The components that serve traffic, each with its rollout."""
    return [c for c in components if c.traffic and hasattr(c, "rollout")]


def traffic_at_full(phase: Phase) -> Gate:
    serving = _serving(_components(phase))
    behind = [f"{c.name} at {c.rollout.percentage}%" for c in serving if c.rollout.percentage < 100]
    if phase.plan.force_original:
        behind.append("force-original is on")
    if behind:
        detail = ", ".join(behind)
    elif serving:
        detail = "all of this phase's traffic is on the new implementation"
    else:
        # Said as it is: the plan's other traffic may well be at 0%.
        detail = "no component of this phase serves traffic"
    return Gate("traffic components at 100%", not behind, detail)


def checklist_complete(phase: Phase) -> Gate:
    if phase.position != 0:
        return Gate("readiness checklist", True, "only the first phase needs it")
    open_items = [item.text for item in phase.plan.checklist.all() if not item.is_checked]
    return Gate("readiness checklist", not open_items, ", ".join(open_items) or "every item is ticked")


def no_open_critical_alert(phase: Phase) -> Gate:
    from monitoring.models import Alert  # monitoring builds on this app, not the other way round

    critical = Alert.objects.filter(plan=phase.plan, severity=Alert.Severity.CRITICAL, resolved_at__isnull=True)
    found = [f"{alert.scope or 'plan-wide'}: {alert.message}" for alert in critical.order_by("opened_at")]
    return Gate("no open critical alert", not found, "; ".join(found) or "no critical alert is open")


# Small functions, each naming what fails.
GATES = [all_components_migrated, traffic_at_full, checklist_complete, no_open_critical_alert]


def check_gates(phase: Phase) -> list[Gate]:
    return [gate(phase) for gate in GATES]


def request_blockers(phase: Phase, gates: list[Gate]) -> list[str]:
    """Why a promotion cannot be requested now ([] when it can), from `check_gates(phase)`."""
    if phase.state != PhaseState.IN_PROGRESS:
        return [f"phase {phase.key} is {phase.get_state_display().lower()}: only a phase in progress can be promoted"]
    return [f"{g.name}: {g.detail}" for g in gates if not g.passed]


def find(plan_key: str, phase_key: str) -> Phase:
    phase = Phase.objects.select_related("plan").filter(plan__key=plan_key, key=phase_key).first()
    if phase is None:
        if not Plan.objects.filter(key=plan_key).exists():
            raise NotFound(f"no plan {plan_key!r}")
        raise NotFound(f"plan {plan_key} has no phase {phase_key!r}")
    return phase


def phase_fingerprint(phase: Phase) -> str:
    """What a promotion approves: the phase's components as they stand, and their traffic."""
    return fingerprint(
        {
            "phase": phase.pk,
            "force_original": phase.plan.force_original,
            "components": [
                [c.name, c.state, c.rollout.percentage if c.traffic and hasattr(c, "rollout") else None]
                for c in _components(phase)
            ],
        }
    )


def promotion_summary(phase: Phase) -> str:
    """What an approver reads first: the phase, its components, and its traffic if it has any."""
    components = _components(phase)
    migrated = sum(1 for c in components if c.state == ComponentState.COMPLETED)
    serving = _serving(components)
    traffic = f"traffic at 100% on {', '.join(c.name for c in serving)}" if serving else "no traffic to shift"
    return f"Promote phase {phase.name} ({phase.key}): {migrated} component{pluralize(migrated)} migrated, {traffic}"


def request_promotion(phase: Phase, *, actor: Actor, reason: str = "") -> Approval:
    """Ask for the phase's promotion.

    1. The actor may operate; the phase is in progress.
    2. Every gate passes, or the refusal names each one that fails (GatesFailed, 409).
    3. In one transaction: the phase moves to awaiting approval and the request opens,
       asking for the phase's number of approvals.
    """
    actor.require(Permission.OPERATE, "request a promotion")
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=phase.plan_id)
        phase = Phase.objects.select_related("plan").get(pk=phase.pk)
        if phase.state != PhaseState.IN_PROGRESS:
            raise Conflict(request_blockers(phase, [])[0])
        gates = check_gates(phase)
        if not all(gate.passed for gate in gates):
            raise GatesFailed(phase, gates)
        transitions.apply(phase, PhaseState.AWAITING_APPROVAL, actor=actor, reason=reason)
        return approvals.request(
            plan=plan,
            kind=Approval.Kind.PHASE_PROMOTION,
            summary=promotion_summary(phase),
            fingerprint=phase_fingerprint(phase),
            required=phase.approvals_required,
            actor=actor,
            reason=reason,
            phase=phase,
        )


def _promote(approval: Approval, actor: Actor) -> None:
    phase = Phase.objects.select_related("plan").get(pk=approval.phase_id)
    gates = check_gates(phase)
    if not all(gate.passed for gate in gates):
        raise GatesFailed(phase, gates)
    transitions.apply(phase, PhaseState.PROMOTED, actor=actor, reason=approval.summary, promoted_at=timezone.now())


def _withdraw(approval: Approval, actor: Actor, reason: str) -> None:
    phase = Phase.objects.get(pk=approval.phase_id)
    if phase.state == PhaseState.AWAITING_APPROVAL:
        transitions.apply(phase, PhaseState.IN_PROGRESS, actor=actor, reason=reason)


def _current_fingerprint(approval: Approval) -> str:
    return phase_fingerprint(Phase.objects.select_related("plan").get(pk=approval.phase_id))


HANDLER = approvals.KindHandler(fingerprint=_current_fingerprint, on_approved=_promote, on_ended=_withdraw)
