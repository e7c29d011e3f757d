"""Phase promotion: gates that name what fails, the request, and the move once approved."""

import pytest
from django.utils import timezone

from conftest import actor
from migrations_app import approvals, promotion
from migrations_app.errors import Conflict, NotAllowed
from migrations_app.fragments.overview import OverviewPage
from migrations_app.models import Approval, AuditEvent, ChecklistItem, Component, Phase, Rollout
from migrations_app.states import ComponentState, PhaseState

pytestmark = pytest.mark.django_db


def ready_phase_one(plan, user):
    """Arrange: phase one in progress, its component migrated, the checklist ticked."""
    Phase.objects.filter(plan=plan, key="one").update(state=PhaseState.IN_PROGRESS)
    Component.objects.filter(plan=plan, name="alpha").update(state=ComponentState.COMPLETED)
    ChecklistItem.objects.filter(plan=plan).update(checked_by=user, checked_at=timezone.now())
    return plan.phases.get(key="one")


def test_every_gate_passes_for_a_ready_phase(tiny_plan, operator):
    phase = ready_phase_one(tiny_plan, operator)
    assert [(g.name, g.passed) for g in promotion.check_gates(phase)] == [
        ("all components migrated", True),
        ("traffic components at 100%", True),
        ("readiness checklist", True),
        ("no open critical alert", True),
    ]


def test_the_refusal_names_each_failing_gate_and_changes_nothing(tiny_plan, operator):
    phase = ready_phase_one(tiny_plan, operator)
    Component.objects.filter(plan=tiny_plan, name="alpha").update(state=ComponentState.FAILED)
    ChecklistItem.objects.filter(plan=tiny_plan).update(checked_by=None, checked_at=None)
    with pytest.raises(promotion.GatesFailed) as refused:
        promotion.request_promotion(phase, actor=actor(operator))
    assert refused.value.message == (
        "phase one cannot be promoted: all components migrated: alpha (failed); readiness checklist: Backups taken"
    )
    phase.refresh_from_db()
    assert phase.state == PhaseState.IN_PROGRESS
    assert not Approval.objects.exists()


def test_traffic_components_must_be_at_100_percent(tiny_plan, operator):
    Phase.objects.filter(plan=tiny_plan, key="two").update(state=PhaseState.IN_PROGRESS)
    Component.objects.filter(plan=tiny_plan).update(state=ComponentState.COMPLETED)
    Rollout.objects.filter(component__name="beta").update(percentage=25)
    gates = promotion.check_gates(tiny_plan.phases.get(key="two"))
    traffic = next(g for g in gates if g.name == "traffic components at 100%")
    assert (traffic.passed, traffic.detail) == (False, "beta at 25%")
    assert next(g for g in gates if g.name == "readiness checklist").passed  # only phase 1 needs it


def test_a_phase_without_traffic_components_says_so_instead_of_claiming_all_traffic_moved(tiny_plan, operator):
    phase = ready_phase_one(tiny_plan, operator)
    traffic = next(g for g in promotion.check_gates(phase) if g.name == "traffic components at 100%")
    assert (traffic.passed, traffic.detail) == (True, "no component of this phase serves traffic")


def test_a_phase_whose_traffic_is_all_moved_names_it_in_the_request(tiny_plan, operator):
    Phase.objects.filter(plan=tiny_plan, key="two").update(state=PhaseState.IN_PROGRESS)
    Component.objects.filter(plan=tiny_plan).update(state=ComponentState.COMPLETED)
    Rollout.objects.filter(component__name="beta").update(percentage=100)
    phase = tiny_plan.phases.get(key="two")
    traffic = next(g for g in promotion.check_gates(phase) if g.name == "traffic components at 100%")
    assert (traffic.passed, traffic.detail) == (True, "all of this phase's traffic is on the new implementation")
    approval = promotion.request_promotion(phase, actor=actor(operator))
    assert approval.summary == "Promote phase Two (two): 1 component migrated, traffic at 100% on beta"


def test_a_request_moves_the_phase_to_awaiting_approval_and_names_what_changes(tiny_plan, operator):
    phase = ready_phase_one(tiny_plan, operator)
    approval = promotion.request_promotion(phase, actor=actor(operator), reason="done")
    phase.refresh_from_db()
    assert phase.state == PhaseState.AWAITING_APPROVAL
    assert (approval.kind, approval.state, approval.required_approvals) == ("phase_promotion", "pending", 1)
    # Phase one has no traffic component: the summary does not claim any traffic moved.
    assert approval.summary == "Promote phase One (one): 1 component migrated, no traffic to shift"
    assert approval.requested_by == operator


def test_approval_promotes_the_phase_and_starts_its_rollback_window(tiny_plan, operator, approver):
    phase = ready_phase_one(tiny_plan, operator)
    approval = promotion.request_promotion(phase, actor=actor(operator))
    approvals.approve(approval, actor=actor(approver), comment="looks good")
    phase.refresh_from_db()
    assert phase.state == PhaseState.PROMOTED
    assert phase.promoted_at is not None
    assert AuditEvent.objects.get(action="phase.promoted").actor_name == "anna-approver"


def test_only_a_phase_in_progress_can_ask(tiny_plan, operator):
    phase = tiny_plan.phases.get(key="one")
    with pytest.raises(Conflict, match="phase one is pending: only a phase in progress can be promoted"):
        promotion.request_promotion(phase, actor=actor(operator))


def test_an_approver_cannot_request_a_promotion(tiny_plan, operator, approver):
    phase = ready_phase_one(tiny_plan, operator)
    with pytest.raises(NotAllowed, match="may not request a promotion"):
        promotion.request_promotion(phase, actor=actor(approver))
    phase.refresh_from_db()
    assert phase.state == PhaseState.IN_PROGRESS


def test_an_open_critical_alert_blocks_promotion_until_it_is_resolved(tiny_plan, operator):
    from monitoring import alerts

    phase = ready_phase_one(tiny_plan, operator)
    alert = alerts.raise_alert(tiny_plan, rule="error_rate", severity="critical", message="error rate 12.0% > 5.0%")
    alerts.raise_alert(tiny_plan, rule="p95_latency", severity="warning", message="p95 3400 ms > 3000 ms")
    with pytest.raises(promotion.GatesFailed, match=r"no open critical alert: plan-wide: error rate 12.0% > 5.0%$"):
        promotion.request_promotion(phase, actor=actor(operator))
    assert not Approval.objects.exists()
    alerts.resolve(alert, reason="fixed")
    assert promotion.request_promotion(phase, actor=actor(operator)).state == "pending"


def test_the_overview_traffic_chart_marks_a_promotion_once_it_happens(tiny_plan, operator, approver):
    def promotion_marks():
        layout = OverviewPage(tiny_plan, actor(operator)).figures["chart-rollout"]["layout"]
        return [a["text"] for a in layout["annotations"]], [s["x0"] for s in layout["shapes"]]

    assert promotion_marks() == ([], [])
    phase = ready_phase_one(tiny_plan, operator)
    approvals.approve(promotion.request_promotion(phase, actor=actor(operator)), actor=actor(approver))
    promoted = AuditEvent.objects.get(action="phase.promoted")
    assert promotion_marks() == ([f"promoted: {promoted.target_label}"], [promoted.at.isoformat()])
