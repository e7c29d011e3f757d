"""The controller's automatic moves, applied to real rows under the rollout's epoch."""

import pytest
from django.test import override_settings

from conftest import actor
from migrations_app.models import Approval, AuditEvent, Plan, Run
from migrations_app.rollout import emergency, reconcile, services
from migrations_app.rollout.tests.conftest import age, database_down, failing, healthy, rollout_of, thin
from migrations_app.states import RolloutState
from monitoring import report

pytestmark = pytest.mark.django_db


def started(beta, operator, seconds_ago=301):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    return age(rollout_of(beta), seconds_ago)


def run(rollout, verdict=None, epoch=None):
    return reconcile.reconcile(rollout.pk, rollout.epoch if epoch is None else epoch, health=lambda c: verdict)


def test_a_healthy_rollout_advances_one_step_per_interval(beta, operator):
    rollout = started(beta, operator)
    decision = run(rollout, healthy())
    rollout.refresh_from_db()
    assert (decision.action, rollout.percentage, rollout.state) == ("advance", 25, RolloutState.PROGRESSING)
    event = AuditEvent.objects.get(action="rollout.advanced")
    assert (event.actor_name, event.before["percentage"], event.after["percentage"]) == ("system", 10, 25)
    assert event.data["health"]["providers"]["migrated"]["samples"] == 200
    # The next interval starts now: a second look right away holds.
    assert run(rollout, healthy()).action == "wait"
    assert rollout_of(beta).percentage == 25


def test_a_stale_epoch_changes_nothing(beta, operator):
    rollout = started(beta, operator)
    stale_epoch = rollout.epoch
    services.pause_rollout(rollout, actor=actor(operator), reason="hold")
    services.resume_rollout(rollout_of(beta), actor=actor(operator))
    age(rollout_of(beta), 301)
    before = AuditEvent.objects.count()
    assert run(rollout, healthy(), epoch=stale_epoch) is None
    assert run(rollout, failing(), epoch=stale_epoch) is None
    rollout.refresh_from_db()
    assert (rollout.percentage, rollout.state, rollout.epoch) == (10, RolloutState.PROGRESSING, stale_epoch + 2)
    assert AuditEvent.objects.count() == before


def test_the_same_decision_delivered_twice_applies_once(beta, operator):
    rollout = started(beta, operator)
    epoch = rollout.epoch
    assert run(rollout, healthy(), epoch=epoch).action == "advance"
    age(rollout_of(beta), 301)
    assert run(rollout, healthy(), epoch=epoch) is None
    assert rollout_of(beta).percentage == 25


def test_before_a_step_that_needs_approval_it_waits_for_approvers(demo_plan, health_source, operator):
    from migrations_app.rollout.tests.conftest import migrated

    edge = migrated(demo_plan.components.get(name="edge-functions"))
    services.start_rollout(rollout_of(edge), actor=actor(operator))
    services.set_percentage(rollout_of(edge), 25, actor=actor(operator), reason="skip ahead")
    services.resume_rollout(rollout_of(edge), actor=actor(operator))
    rollout = age(rollout_of(edge), 301)
    run(rollout, healthy("edge-functions"))
    rollout.refresh_from_db()
    assert (rollout.state, rollout.percentage) == (RolloutState.AWAITING_APPROVAL, 25)
    approval = Approval.objects.get(rollout=rollout, state="pending")
    assert (approval.target_percentage, approval.requested_by_name) == (50, "system")
    assert approval.summary == "Raise edge-functions from 25% to 50% of traffic"


def test_at_100_percent_held_healthy_it_completes(beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.set_percentage(rollout_of(beta), 100, actor=actor(operator), reason="r")
    services.resume_rollout(rollout_of(beta), actor=actor(operator))
    run(age(rollout_of(beta), 301), healthy())
    assert rollout_of(beta).state == RolloutState.COMPLETED


def test_too_few_samples_holds_the_step(beta, operator):
    rollout = started(beta, operator)
    assert run(rollout, thin()).action == "wait"
    assert rollout_of(beta).percentage == 10


def test_failing_health_rolls_the_component_back_with_the_figures_as_reason(beta, operator, caplog):
    rollout = started(beta, operator, seconds_ago=5)
    run(rollout, failing(error_rate=0.12))
    rollout.refresh_from_db()
    assert (rollout.state, rollout.percentage, rollout.fallback) == (RolloutState.ROLLED_BACK, 0, True)
    assert rollout.last_reason == "health gate failed: error rate 12.0% > 5.0%"
    event = AuditEvent.objects.get(action="rollout.auto_rolled_back")
    assert event.reason == "health gate failed: error rate 12.0% > 5.0%"
    assert event.data["health"]["providers"]["migrated"]["errors"] == 24
    assert Plan.objects.get(pk=beta.plan_id).force_original is False


def test_a_plan_that_says_auto_rollback_plan_rolls_everything_back(beta, operator):
    Plan.objects.filter(pk=beta.plan_id).update(auto_rollback="plan")
    run(started(beta, operator), database_down())
    plan = Plan.objects.get(pk=beta.plan_id)
    assert plan.force_original is True
    assert rollout_of(beta).percentage == 0
    event = AuditEvent.objects.get(action="plan.emergency_rollback")
    assert event.reason == "beta: health gate failed: database unreachable"
    assert event.data["health"]["database_healthy"] is False


def test_unknown_health_moves_nothing(beta, operator, settings):
    settings.ROLLOUT_HEALTH_EVALUATOR = "monitoring.no_such_module.evaluate"
    rollout = started(beta, operator)
    assert reconcile.reconcile(rollout.pk, rollout.epoch).reason == "health is unavailable"
    assert rollout_of(beta).percentage == 10


@override_settings(PLANNED_ROLLBACK_STEP_SECONDS=60)
def test_planned_rollback_steps_down_each_wait_with_health_warnings_then_hands_over(
    beta, operator, django_capture_on_commit_callbacks
):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.set_percentage(rollout_of(beta), 100, actor=actor(operator), reason="all in")
    services.planned_rollback(rollout_of(beta), actor=actor(operator), reason="back out")
    seen = [rollout_of(beta).percentage]
    assert run(rollout_of(beta), failing()).action == "wait"  # not yet waited
    for verdict in (healthy(), failing(), healthy(), healthy(), healthy()):
        with django_capture_on_commit_callbacks(execute=True):
            run(age(rollout_of(beta), 61), verdict)
        seen.append(rollout_of(beta).percentage)
    assert seen == [75, 50, 25, 10, 0, 0]
    assert rollout_of(beta).state == RolloutState.ROLLED_BACK
    warned = AuditEvent.objects.get(action="rollout.stepped_down", after__percentage=25)
    assert warned.data["warnings"] == ["health gate failed: error rate 12.0% > 5.0%"]
    finished = AuditEvent.objects.get(action="rollout.planned_rollback_finished")
    assert finished.reason == "planned rollback by olga-operator: back out"
    # Then the engine reverses the component's steps, on a worker.
    reverse = Run.objects.get(component=beta, kind=Run.Kind.ROLLBACK)
    assert (reverse.triggered_by_name, reverse.reason) == ("system", "planned rollback by olga-operator: back out")
    assert AuditEvent.objects.filter(action="component.rollback_requested", component=beta).exists()


@override_settings(PLANNED_ROLLBACK_STEP_SECONDS=0)
def test_when_the_engine_refuses_the_reverse_steps_that_is_recorded(beta, operator, django_capture_on_commit_callbacks):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    services.planned_rollback(rollout_of(beta), actor=actor(operator), reason="back out")
    Run.objects.create(plan_id=beta.plan_id, phase_id=beta.phase_id, state=Run.State.RUNNING, triggered_by_name="x")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            run(rollout_of(beta), healthy())
    assert rollout_of(beta).state == RolloutState.ROLLED_BACK
    refused = AuditEvent.objects.get(action="rollout.reverse_steps_not_started", component=beta)
    assert refused.reason.startswith("the migration engine refused: ")
    assert not Run.objects.filter(component=beta, kind=Run.Kind.ROLLBACK).exists()


def test_due_lists_only_rollouts_the_controller_moves(beta, operator):
    assert reconcile.due() == []
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    rollout = rollout_of(beta)
    assert reconcile.due() == [(rollout.pk, rollout.epoch)]
    services.pause_rollout(rollout, actor=actor(operator))
    assert reconcile.due() == []


@override_settings(ROLLOUT_TIME_SCALE=0.1)
def test_a_time_scale_shortens_the_interval_the_plan_states(beta, operator):
    # The plan says 300 s; at a scale of 0.1 the step is held for 30 s.
    rollout = started(beta, operator, seconds_ago=20)
    assert run(rollout, healthy()).action == "wait"
    rollout = age(rollout_of(beta), 31)
    assert run(rollout, healthy()).action == "advance"
    assert rollout_of(beta).percentage == 25


def test_the_reports_rollbacks_count_what_the_health_gate_and_the_red_button_did(beta, operator):
    run(started(beta, operator, seconds_ago=5), failing(error_rate=0.12))  # the health gate
    emergency.emergency_rollback(Plan.objects.get(pk=beta.plan_id), actor=actor(operator), reason="still bad")
    reliability = report.reliability(Plan.objects.get(pk=beta.plan_id))
    assert reliability["rollbacks"] == 2
    assert {kind: n for kind, n in reliability["rollbacks_by_kind"].items() if n} == {"health_gate": 1, "emergency": 1}
