"""Emergency rollback of a plan, stability verification, and clearing force-original."""

from datetime import timedelta

import pytest
from django.db import transaction

from conftest import actor
from migrations_app import approvals
from migrations_app.errors import Conflict, InvalidInput, NotAllowed
from migrations_app.models import Approval, AuditEvent, Plan
from migrations_app.models.plan import Stability
from migrations_app.rollout import changes, emergency, services
from migrations_app.rollout.tests.conftest import healthy, migrated, provider, rollout_of
from migrations_app.states import PhaseState, RolloutState
from monitoring.verdict import MIGRATED, ORIGINAL, HealthVerdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(demo_plan, health_source, operator):
    """Both traffic components of the demo plan, moving."""
    names = ["edge-functions", "blue-green-deployment"]
    for name in names:
        health_source[name] = healthy(name)
        component = migrated(demo_plan.components.get(name=name))
        services.start_rollout(rollout_of(component), actor=actor(operator))
    services.set_percentage(
        rollout_of(demo_plan.components.get(name="edge-functions")), 40, actor=actor(operator), reason="pilot"
    )
    return demo_plan


def rollouts(plan):
    return {r.component.name: r for r in (rollout_of(c) for c in plan.components.filter(traffic=True))}


def test_every_rollout_goes_to_zero_with_force_original_and_fallback_in_one_go(live, operator):
    before = {name: r.epoch for name, r in rollouts(live).items()}
    plan_epoch = Plan.objects.get(pk=live.pk).epoch
    emergency.emergency_rollback(live, actor=actor(operator), reason="error spike on checkout")
    plan = Plan.objects.get(pk=live.pk)
    assert plan.force_original is True
    assert plan.epoch > plan_epoch
    assert plan.stability == Stability.VERIFYING
    for name, rollout in rollouts(live).items():
        assert (rollout.percentage, rollout.fallback, rollout.state) == (0, True, RolloutState.ROLLED_BACK)
        assert rollout.epoch == before[name] + 1
    event = AuditEvent.objects.get(action="plan.emergency_rollback")
    assert event.reason == "error spike on checkout"
    assert event.before["rollouts"]["edge-functions"] == {"percentage": 40, "state": "paused"}
    assert AuditEvent.objects.filter(action="rollout.emergency_rolled_back").count() == 2


def test_an_unreachable_broker_neither_undoes_the_rollback_nor_fails_the_operators_request(
    live, operator, logged_in, broker_unreachable, django_capture_on_commit_callbacks, caplog
):
    # A Redis outage is when the red button gets pressed: the first stability check cannot
    # be sent, and the operator must still see that all traffic is back on the original.
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(operator).post(
            f"/plans/{live.key}/emergency-rollback", {"reason": "redis is down"}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert "Emergency rollback done" in response.content.decode()
    plan = Plan.objects.get(pk=live.pk)
    assert (plan.force_original, plan.stability) == (True, Stability.VERIFYING)
    assert {name: r.percentage for name, r in rollouts(live).items()} == {
        "edge-functions": 0,
        "blue-green-deployment": 0,
    }
    # The warning names the task as called and the sweep that sends it again.
    assert f"verify_stability({live.pk}, {plan.epoch}, 1) not sent" in caplog.text
    assert "resume_stalled" in caplog.text
    # Nothing is lost: the verification counts as stalled and the beat sends its check again.
    later = plan.stability_checked_at + emergency.stall_after() + timedelta(seconds=1)
    assert emergency.resume_stalled(now=later) == [plan.pk]


def test_it_needs_a_reason_and_writes_nothing_without_one(live, operator):
    with pytest.raises(InvalidInput, match="reason: a reason is required"):
        emergency.emergency_rollback(live, actor=actor(operator), reason="")
    assert Plan.objects.get(pk=live.pk).force_original is False
    assert rollouts(live)["edge-functions"].percentage == 40


def test_a_viewer_cannot_roll_back(live, viewer):
    with pytest.raises(NotAllowed):
        emergency.emergency_rollback(live, actor=actor(viewer), reason="x")
    assert Plan.objects.get(pk=live.pk).force_original is False


def test_nothing_can_raise_traffic_while_force_original_is_on(live, operator):
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    with pytest.raises(Conflict, match="force-original on since an emergency rollback: clear it first"):
        services.start_rollout(rollouts(live)["edge-functions"], actor=actor(operator))


def test_it_invalidates_pending_approvals_of_the_plan(live, operator):
    edge = rollouts(live)["edge-functions"]
    services.resume_rollout(edge, actor=actor(operator))
    with pytest.raises(Conflict):
        services.set_percentage(rollout_of(edge.component), 60, actor=actor(operator), reason="r")
    with transaction.atomic():
        plan, current = changes.lock(rollout_of(edge.component))
        services.request_step(plan, current, 50, actor=actor(operator))
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    approval = Approval.objects.get(rollout=edge)
    assert (approval.state, approval.decision_reason) == (Approval.State.INVALIDATED, "emergency rollback")


def test_the_rollback_is_published_live(live, operator, listen, django_capture_on_commit_callbacks, settings):
    settings.STABILITY_CHECK_INTERVAL_SECONDS = 3600  # the first check is not the subject here
    listener = listen(live.pk)
    with django_capture_on_commit_callbacks(execute=True):
        emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    events = listener.events()
    rollout_events = [p for e, p in events if e == "rollout.changed" and "percentage" in p]
    latest = {p["component"]: p["percentage"] for p in rollout_events}
    assert latest == {"edge-functions": 0, "blue-green-deployment": 0}
    plan_events = [p for e, p in events if e == "plan.changed"]
    assert plan_events[-1]["force_original"] is True


def original_failing(name):
    return HealthVerdict(
        component=name,
        window_seconds=30,
        providers={ORIGINAL: provider(ORIGINAL, errors=30), MIGRATED: provider(MIGRATED, samples=0)},
    )


def check(plan, attempt):
    plan = Plan.objects.get(pk=plan.pk)
    return emergency.verify_stability(plan.pk, plan.epoch, attempt)


def test_stability_is_verified_after_three_consecutive_healthy_checks(live, operator, health_source):
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    health_source["edge-functions"] = original_failing("edge-functions")
    check(live, 1)
    health_source["edge-functions"] = healthy("edge-functions")
    for attempt in (2, 3, 4):
        check(live, attempt)
    plan = Plan.objects.get(pk=live.pk)
    assert (plan.stability, plan.stability_attempts, plan.stability_passes) == (Stability.VERIFIED, 4, 3)
    checks = AuditEvent.objects.filter(action="plan.emergency_stability_check").order_by("pk")
    assert [c.after["healthy"] for c in checks] == [False, True, True, True]
    assert checks[0].reason == "edge-functions: original error rate 15.0% > 5.0%"
    assert AuditEvent.objects.filter(action="plan.emergency_stability_verified").count() == 1


def test_stability_is_not_verified_after_ten_attempts_without_three_in_a_row(live, operator, health_source, caplog):
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    for attempt in range(1, 11):
        ok = attempt % 3 != 0
        health_source["edge-functions"] = healthy("edge-functions") if ok else original_failing("edge-functions")
        check(live, attempt)
    plan = Plan.objects.get(pk=live.pk)
    assert (plan.stability, plan.stability_attempts) == (Stability.UNSTABLE, 10)
    assert AuditEvent.objects.filter(action="plan.emergency_stability_not_verified").count() == 1
    assert check(live, 11) is None


def test_a_repeated_or_stale_check_does_nothing(live, operator):
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    plan = Plan.objects.get(pk=live.pk)
    assert emergency.verify_stability(plan.pk, plan.epoch, 1) is not None
    assert emergency.verify_stability(plan.pk, plan.epoch, 1) is None  # delivered twice
    assert emergency.verify_stability(plan.pk, plan.epoch - 1, 2) is None  # from before a change
    assert AuditEvent.objects.filter(action="plan.emergency_stability_check").count() == 1


def test_only_a_verification_that_waited_too_long_for_its_check_is_resumed(live, operator):
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    plan = Plan.objects.get(pk=live.pk)
    assert emergency.resume_stalled(now=plan.stability_checked_at + emergency.stall_after()) == []
    check(live, 1)  # a check moves the mark on
    plan = Plan.objects.get(pk=live.pk)
    assert emergency.resume_stalled(now=plan.stability_checked_at + emergency.stall_after()) == []
    Plan.objects.filter(pk=live.pk).update(stability=Stability.VERIFIED)
    assert emergency.resume_stalled(now=plan.stability_checked_at + 10 * emergency.stall_after()) == []


def test_clearing_force_original_needs_approvals_by_others(live, operator, approver, second_approver):
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    with pytest.raises(NotAllowed):
        emergency.request_clear_force_original(live, actor=actor(approver), reason="fixed")
    request = emergency.request_clear_force_original(live, actor=actor(operator), reason="hotfix deployed")
    assert Plan.objects.get(pk=live.pk).force_original is True
    assert (request.kind, request.required_approvals) == (Approval.Kind.CLEAR_FORCE_ORIGINAL, 2)
    approvals.approve(request, actor=actor(approver))
    assert Plan.objects.get(pk=live.pk).force_original is True
    approvals.approve(request, actor=actor(second_approver))
    assert Plan.objects.get(pk=live.pk).force_original is False
    assert rollouts(live)["edge-functions"].percentage == 0
    assert AuditEvent.objects.filter(action="plan.force_original_cleared", actor_name="ben-approver").exists()


def test_a_second_rollback_invalidates_a_pending_clear_request(live, operator, approver):
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    request = emergency.request_clear_force_original(live, actor=actor(operator), reason="fixed")
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike again")
    request.refresh_from_db()
    assert request.state == Approval.State.INVALIDATED
    with pytest.raises(Conflict, match="already invalidated"):
        approvals.approve(request, actor=actor(approver))
    assert Plan.objects.get(pk=live.pk).force_original is True


def test_clearing_is_refused_when_force_original_is_off(live, operator):
    with pytest.raises(Conflict, match="does not have force-original on"):
        emergency.request_clear_force_original(live, actor=actor(operator), reason="r")
    assert not Approval.objects.exists()


def test_the_number_of_approvals_follows_the_started_phases(live, operator):
    live.phases.filter(key="production").update(state=PhaseState.PENDING)
    emergency.emergency_rollback(live, actor=actor(operator), reason="spike")
    request = emergency.request_clear_force_original(live, actor=actor(operator), reason="r")
    assert request.required_approvals == 1
