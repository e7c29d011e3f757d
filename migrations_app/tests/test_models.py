"""What the database itself guarantees, whatever code writes to it."""

import pytest
from django.contrib import admin
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from migrations_app import audit
from migrations_app.models import AuditEvent, Component, Phase, Rollout, Run
from migrations_app.models.audit import AuditImmutableError
from migrations_app.roles import SYSTEM
from migrations_app.states import ComponentState, Risk, RolloutState


@pytest.mark.django_db
@pytest.mark.parametrize("percentage", [101, 150])
def test_a_rollout_percentage_above_100_is_refused_by_the_database(tiny_plan, percentage):
    with pytest.raises(IntegrityError), transaction.atomic():
        Rollout.objects.filter(component__plan=tiny_plan).update(percentage=percentage)


@pytest.mark.django_db
def test_a_component_has_at_most_one_rollout(tiny_plan):
    beta = Component.objects.get(plan=tiny_plan, name="beta")
    with pytest.raises(IntegrityError), transaction.atomic():
        Rollout.objects.create(component=beta, steps=[100])


@pytest.mark.django_db
def test_component_names_are_unique_per_plan(tiny_plan):
    phase = tiny_plan.phases.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Component.objects.create(
            plan=tiny_plan, phase=phase, name="alpha", position=9, risk="low", rollback_complexity="simple"
        )


@pytest.mark.django_db
def test_phase_keys_are_unique_per_plan(tiny_plan):
    with pytest.raises(IntegrityError), transaction.atomic():
        Phase.objects.create(
            plan=tiny_plan,
            key="one",
            name="Again",
            position=9,
            risk="low",
            days_min=1,
            days_max=1,
            rollback_window_hours=0,
        )


@pytest.mark.django_db
def test_a_step_timeout_must_be_positive(tiny_plan):
    from migrations_app.models import Step

    with pytest.raises(IntegrityError), transaction.atomic():
        Step.objects.filter(component__plan=tiny_plan).update(timeout_seconds=0)


@pytest.mark.django_db
def test_a_phase_has_at_most_one_active_run(tiny_plan):
    phase = tiny_plan.phases.first()
    Run.objects.create(plan=tiny_plan, phase=phase, triggered_by_name="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(plan=tiny_plan, phase=phase, triggered_by_name="b")
    Run.objects.filter(phase=phase).update(state=Run.State.COMPLETED)
    Run.objects.create(plan=tiny_plan, phase=phase, triggered_by_name="c")  # a finished run does not block


@pytest.fixture
def event(tiny_plan):
    return audit.record(actor=SYSTEM, action="test.happened", target=tiny_plan, reason="because")


@pytest.mark.django_db
def test_an_audit_event_cannot_be_edited_through_the_model(event):
    event.reason = "rewritten"
    with pytest.raises(AuditImmutableError):
        event.save()
    event.refresh_from_db()
    assert event.reason == "because"


@pytest.mark.django_db
def test_an_audit_event_cannot_be_deleted_through_the_model_or_a_queryset(event):
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    assert AuditEvent.objects.filter(pk=event.pk, reason="because").exists()


@pytest.mark.django_db
def test_the_database_refuses_raw_edits_of_the_audit_log(event):
    assert connection.vendor == "postgresql", "the tests run against PostgreSQL, where the trigger lives"
    for statement in ("UPDATE migrations_app_auditevent SET reason = 'x'", "DELETE FROM migrations_app_auditevent"):
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.filter(pk=event.pk, reason="because").exists()


@pytest.mark.django_db
def test_the_admin_shows_the_audit_log_read_only(event, admin_user):
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)


@pytest.mark.django_db
def test_an_audit_event_knows_its_plan_and_component(tiny_plan):
    rollout = Rollout.objects.get(component__plan=tiny_plan)
    recorded = audit.record(actor=SYSTEM, action="rollout.touched", target=rollout, data={"error_rate": 0.01})
    assert recorded.plan == tiny_plan
    assert recorded.component == rollout.component
    assert recorded.at <= timezone.now()
    assert recorded.data == {"error_rate": 0.01}


def test_a_choice_is_displayed_by_its_label_and_an_unknown_value_as_itself():
    # No database: the labels come from the fields' choices.
    component = Component(state=ComponentState.COMPLETED, risk=Risk.HIGH)
    assert component.get_state_display() == ComponentState.COMPLETED.label
    assert component.get_risk_display() == Risk.HIGH.label
    assert Rollout(state=RolloutState.ROLLED_BACK).get_state_display() == RolloutState.ROLLED_BACK.label
    assert Component(state="no-such-state").get_state_display() == "no-such-state"
