"""Operator actions on a rollout, through the services: state, epochs, audit, refusals."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import actor
from migrations_app.errors import Conflict, InvalidInput, NotAllowed
from migrations_app.models import Approval, AuditEvent, Component, Phase, Plan
from migrations_app.rollout import services
from migrations_app.rollout.tests.conftest import failing, rollout_of
from migrations_app.states import ComponentState, RolloutState

pytestmark = pytest.mark.django_db


def test_start_moves_traffic_to_the_first_step_and_records_who_and_the_health(beta, operator):
    rollout = rollout_of(beta)
    services.start_rollout(rollout, actor=actor(operator), reason="go")
    rollout.refresh_from_db()
    assert (rollout.state, rollout.percentage, rollout.epoch) == (RolloutState.PROGRESSING, 10, 1)
    assert rollout.percentage_changed_at is not None
    event = AuditEvent.objects.get(action="rollout.started")
    assert event.actor_name == "olga-operator"
    assert (event.before["state"], event.before["percentage"], event.before["epoch"]) == ("idle", 0, 0)
    assert (event.after["state"], event.after["percentage"], event.after["epoch"]) == ("progressing", 10, 1)
    assert event.data["health"]["healthy"] is True
    assert Plan.objects.get(pk=beta.plan_id).epoch == 1


def test_start_is_refused_until_the_component_has_migrated(beta, operator):
    Component.objects.filter(pk=beta.pk).update(state=ComponentState.RUNNING)
    rollout = rollout_of(beta)
    with pytest.raises(Conflict, match="component beta is running: traffic can move only once its migration"):
        services.start_rollout(rollout, actor=actor(operator))
    rollout.refresh_from_db()
    assert (rollout.state, rollout.percentage, rollout.epoch) == (RolloutState.IDLE, 0, 0)
    assert not AuditEvent.objects.filter(action__startswith="rollout.").exists()


def test_start_with_an_approval_at_the_first_step_waits_at_zero_for_it(beta, operator):
    rollout = rollout_of(beta)
    type(rollout).objects.filter(pk=rollout.pk).update(approval_at=[10, 50])
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    rollout.refresh_from_db()
    assert (rollout.state, rollout.percentage) == (RolloutState.AWAITING_APPROVAL, 0)
    approval = Approval.objects.get(rollout=rollout, state="pending")
    assert approval.target_percentage == 10
    assert approval.required_approvals == 2  # phase "two" asks for two
    assert approval.summary == "Raise beta from 0% to 10% of traffic"


def test_pause_and_resume_hand_control_back_and_forth(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.pause_rollout(rollout_of(beta), actor=actor(operator), reason="watching a dashboard")
    rollout = rollout_of(beta)
    assert (rollout.state, rollout.percentage, rollout.last_reason) == ("paused", 10, "watching a dashboard")
    services.resume_rollout(rollout, actor=actor(operator))
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.PROGRESSING
    assert rollout.epoch == 3
    actions = AuditEvent.objects.filter(action__startswith="rollout.").order_by("pk").values_list("action", flat=True)
    assert list(actions) == ["rollout.started", "rollout.paused", "rollout.resumed"]


def test_resume_of_a_rollout_that_is_not_paused_is_refused(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    with pytest.raises(Conflict, match="the rollout of beta is progressing: only a paused rollout can resume"):
        services.resume_rollout(rollout_of(beta), actor=actor(operator))


def test_set_percentage_needs_a_reason_and_writes_nothing_without_one(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidInput, match="reason: a reason is required"):
        services.set_percentage(rollout_of(beta), 20, actor=actor(operator), reason="  ")
    rollout = rollout_of(beta)
    assert (rollout.percentage, rollout.epoch) == (10, 1)
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("bad", [-1, 101, 12.5, True, "50"])
def test_set_percentage_refuses_values_outside_0_to_100(beta, operator, bad):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    with pytest.raises(InvalidInput, match="percentage: must be a whole number from 0 to 100"):
        services.set_percentage(rollout_of(beta), bad, actor=actor(operator), reason="r")
    assert rollout_of(beta).percentage == 10


def test_set_percentage_pauses_the_rollout_and_is_audited_with_the_reason(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.set_percentage(rollout_of(beta), 30, actor=actor(operator), reason="customer pilot")
    rollout = rollout_of(beta)
    assert (rollout.state, rollout.percentage) == (RolloutState.PAUSED, 30)
    event = AuditEvent.objects.get(action="rollout.percentage_set")
    assert (event.before["percentage"], event.after["percentage"], event.reason) == (10, 30, "customer pilot")


def test_a_manual_raise_may_not_pass_a_step_that_needs_approval(demo_plan, health_source, operator):
    from migrations_app.rollout.tests.conftest import healthy, migrated

    edge = migrated(demo_plan.components.get(name="edge-functions"))
    health_source["edge-functions"] = healthy("edge-functions")
    services.start_rollout(rollout_of(edge), actor=actor(operator))
    with pytest.raises(Conflict, match="from 10% to 60% passes 50%, which needs approval"):
        services.set_percentage(rollout_of(edge), 60, actor=actor(operator), reason="hurry")
    assert rollout_of(edge).percentage == 10
    services.set_percentage(rollout_of(edge), 40, actor=actor(operator), reason="below the approval step")
    assert rollout_of(edge).percentage == 40


def test_changing_the_percentage_invalidates_a_pending_step_approval(beta, operator):
    rollout = rollout_of(beta)
    type(rollout).objects.filter(pk=rollout.pk).update(approval_at=[10])
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.set_percentage(rollout_of(beta), 0, actor=actor(operator), reason="not yet")
    approval = Approval.objects.get(rollout=rollout)
    assert approval.state == Approval.State.INVALIDATED
    assert approval.decision_reason == "the percentage was set to 0%"


def test_a_viewer_and_an_approver_may_not_operate(beta, viewer, approver):
    rollout = rollout_of(beta)
    for user in (viewer, approver):
        with pytest.raises(NotAllowed, match="may not start a rollout: it needs the operator or admin role"):
            services.start_rollout(rollout, actor=actor(user))
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.IDLE


def test_planned_rollback_takes_the_first_step_down_at_once(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.set_percentage(rollout_of(beta), 100, actor=actor(operator), reason="all in")
    services.planned_rollback(rollout_of(beta), actor=actor(operator), reason="v2 leaks memory")
    rollout = rollout_of(beta)
    assert (rollout.state, rollout.percentage) == (RolloutState.ROLLING_BACK, 75)
    assert rollout.last_reason == "planned rollback by olga-operator: v2 leaks memory"


def _promoted(component, hours_ago: float, window_hours: int):
    Phase.objects.filter(pk=component.phase_id).update(
        state="promoted", promoted_at=timezone.now() - timedelta(hours=hours_ago), rollback_window_hours=window_hours
    )


def test_planned_rollback_after_the_window_is_refused_with_the_time_it_closed(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    _promoted(beta, hours_ago=30, window_hours=24)
    closed = Phase.objects.get(pk=beta.phase_id).promoted_at + timedelta(hours=24)
    with pytest.raises(Conflict, match=f"the rollback window closed at {closed:%Y-%m-%d %H:%M} UTC"):
        services.planned_rollback(rollout_of(beta), actor=actor(operator), reason="too late")
    assert rollout_of(beta).state == RolloutState.PROGRESSING


def test_only_an_admin_may_override_a_closed_window_and_it_is_audited(beta, operator, admin_user):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    _promoted(beta, hours_ago=30, window_hours=24)
    with pytest.raises(NotAllowed, match="override a closed rollback window"):
        services.planned_rollback(rollout_of(beta), actor=actor(operator), reason="r", override_reason="please")
    services.planned_rollback(
        rollout_of(beta), actor=actor(admin_user), reason="data corruption", override_reason="customer data at risk"
    )
    assert rollout_of(beta).state == RolloutState.ROLLING_BACK
    event = AuditEvent.objects.get(action="rollout.window_overridden")
    assert (event.actor_name, event.reason) == ("ada-admin", "customer data at risk")


def test_planned_rollback_within_the_window_is_allowed(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    _promoted(beta, hours_ago=2, window_hours=24)
    services.planned_rollback(rollout_of(beta), actor=actor(operator), reason="in time")
    assert rollout_of(beta).state == RolloutState.ROLLING_BACK


def test_operator_actions_are_published_live(beta, operator, listen, django_capture_on_commit_callbacks):
    listener = listen(beta.plan_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_rollout(rollout_of(beta), actor=actor(operator))
    events = listener.events()
    changed = [payload for event, payload in events if event == "rollout.changed" and "percentage" in payload]
    assert changed[-1]["percentage"] == 10
    assert changed[-1]["state"] == "progressing"
    assert ("audit.recorded", "rollout.started") in [(e, p.get("action")) for e, p in events]


def test_health_figures_are_recorded_even_when_failing(beta, operator, health_source):
    health_source["beta"] = failing()
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.pause_rollout(rollout_of(beta), actor=actor(operator), reason="error rate")
    event = AuditEvent.objects.get(action="rollout.paused")
    assert event.data["health"]["reasons"] == ["error rate 12.0% > 5.0%"]
