"""Four eyes: distinct approvers, never the requester, only people; rejection, expiry, invalidation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import actor
from migrations_app import approvals, promotion, tokens
from migrations_app.errors import Conflict, InvalidInput, NotAllowed
from migrations_app.models import Approval, ApprovalVote, AuditEvent, ChecklistItem, Component, Phase, Rollout
from migrations_app.roles import CLI, Actor
from migrations_app.states import ComponentState, PhaseState

pytestmark = pytest.mark.django_db


@pytest.fixture
def phase_two_request(tiny_plan, operator):
    """A pending promotion of phase two (two approvals required), requested by the operator."""
    Phase.objects.filter(plan=tiny_plan, key="two").update(state=PhaseState.IN_PROGRESS)
    Component.objects.filter(plan=tiny_plan).update(state=ComponentState.COMPLETED)
    Rollout.objects.filter(component__plan=tiny_plan).update(percentage=100)
    ChecklistItem.objects.filter(plan=tiny_plan).update(checked_by=operator, checked_at=timezone.now())
    return promotion.request_promotion(tiny_plan.phases.get(key="two"), actor=actor(operator))


def phase_state(request):
    return Phase.objects.get(pk=request.phase_id).state


def test_it_needs_the_number_of_distinct_approvers_the_phase_asks_for(phase_two_request, approver, second_approver):
    approvals.approve(phase_two_request, actor=actor(approver))
    phase_two_request.refresh_from_db()
    assert phase_two_request.state == Approval.State.PENDING
    assert phase_state(phase_two_request) == PhaseState.AWAITING_APPROVAL
    with pytest.raises(Conflict, match="anna-approver has already approved"):
        approvals.approve(phase_two_request, actor=actor(approver))
    approvals.approve(phase_two_request, actor=actor(second_approver))
    phase_two_request.refresh_from_db()
    assert phase_two_request.state == Approval.State.APPROVED
    assert phase_state(phase_two_request) == PhaseState.PROMOTED
    assert ApprovalVote.objects.filter(approval=phase_two_request).count() == 2


def test_the_requester_may_not_approve_their_own_request(phase_two_request, operator, django_user_model):
    from django.contrib.auth.models import Group

    operator.groups.add(Group.objects.get(name="approver"))
    with pytest.raises(NotAllowed, match="olga-operator requested this and may not approve it"):
        approvals.approve(phase_two_request, actor=actor(operator))
    assert not ApprovalVote.objects.exists()
    assert phase_state(phase_two_request) == PhaseState.AWAITING_APPROVAL


def test_roles_without_approve_and_service_tokens_are_refused(phase_two_request, operator, viewer, admin_user):
    for user in (viewer,):
        with pytest.raises(NotAllowed, match="may not approve requests"):
            approvals.approve(phase_two_request, actor=actor(user))
    token, _ = tokens.create(name="ci", scopes=["operate"], actor=CLI)
    with pytest.raises(NotAllowed, match="may not approve requests"):
        approvals.approve(phase_two_request, actor=Actor.for_token(token))
    # An all-powerful actor that is not a person still cannot approve.
    with pytest.raises(NotAllowed, match="only a person approves"):
        approvals.approve(phase_two_request, actor=CLI)
    assert not ApprovalVote.objects.exists()


def test_a_personal_token_approves_as_its_person(phase_two_request, approver):
    token, _ = tokens.create(name="anna-laptop", scopes=["approve"], actor=CLI, user=approver)
    approvals.approve(phase_two_request, actor=Actor.for_token(token))
    assert ApprovalVote.objects.get().approver == approver


def test_a_rejection_needs_a_reason_and_sends_the_phase_back_to_work(phase_two_request, approver):
    with pytest.raises(InvalidInput, match="reason: a rejection needs a reason"):
        approvals.reject(phase_two_request, actor=actor(approver), reason=" ")
    assert Approval.objects.get(pk=phase_two_request.pk).state == Approval.State.PENDING
    approvals.reject(phase_two_request, actor=actor(approver), reason="p95 still too high")
    phase_two_request.refresh_from_db()
    assert (phase_two_request.state, phase_two_request.decision_reason) == ("rejected", "p95 still too high")
    assert phase_state(phase_two_request) == PhaseState.IN_PROGRESS
    with pytest.raises(Conflict, match="is already rejected"):
        approvals.approve(phase_two_request, actor=actor(approver))


def test_a_request_expires_when_read_after_its_time(phase_two_request, approver):
    Approval.objects.filter(pk=phase_two_request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(Conflict, match="expired at"):
        approvals.approve(approvals.get(phase_two_request.pk), actor=actor(approver))
    phase_two_request.refresh_from_db()
    assert phase_two_request.state == Approval.State.EXPIRED
    assert phase_state(phase_two_request) == PhaseState.IN_PROGRESS
    assert not ApprovalVote.objects.exists()


def test_an_expired_request_is_ended_even_when_approved_directly(phase_two_request, approver):
    Approval.objects.filter(pk=phase_two_request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(Conflict, match=f"approval request {phase_two_request.pk} expired at"):
        approvals.approve(phase_two_request, actor=actor(approver))
    assert Approval.objects.get(pk=phase_two_request.pk).state == Approval.State.EXPIRED


def test_requests_expire_after_the_plans_expiry_hours_by_the_sweep(phase_two_request, tiny_plan):
    assert phase_two_request.expires_at - phase_two_request.requested_at == pytest.approx(
        timedelta(hours=tiny_plan.approval_expiry_hours), abs=timedelta(seconds=5)
    )
    assert approvals.expire_due() == 0
    Approval.objects.filter(pk=phase_two_request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert approvals.expire_due() == 1
    assert Approval.objects.get(pk=phase_two_request.pk).state == Approval.State.EXPIRED
    assert AuditEvent.objects.filter(action="approval.expired", actor_name="system").count() == 1


def test_a_change_to_what_is_approved_invalidates_the_request(phase_two_request, approver):
    Rollout.objects.filter(component__name="beta").update(percentage=75)
    with pytest.raises(Conflict, match="is no longer valid: what it approves changed since it was requested"):
        approvals.approve(phase_two_request, actor=actor(approver))
    phase_two_request.refresh_from_db()
    assert phase_two_request.state == Approval.State.INVALIDATED
    assert phase_state(phase_two_request) == PhaseState.IN_PROGRESS
    assert not ApprovalVote.objects.exists()


def test_a_second_pending_request_for_the_same_phase_is_refused(phase_two_request, operator):
    Phase.objects.filter(pk=phase_two_request.phase_id).update(state=PhaseState.IN_PROGRESS)
    with pytest.raises(Conflict, match="a phase promotion request is already pending"):
        promotion.request_promotion(Phase.objects.get(pk=phase_two_request.phase_id), actor=actor(operator))
    assert Approval.objects.count() == 1


def test_every_decision_is_audited(phase_two_request, approver, second_approver):
    approvals.approve(phase_two_request, actor=actor(approver), comment="fine")
    approvals.approve(phase_two_request, actor=actor(second_approver))
    actions = list(AuditEvent.objects.filter(target_type="approval").order_by("pk").values_list("action", "actor_name"))
    assert actions == [
        ("approval.requested", "olga-operator"),
        ("approval.voted", "anna-approver"),
        ("approval.voted", "ben-approver"),
        ("approval.approved", "ben-approver"),
    ]
