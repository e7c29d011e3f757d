"""With monitoring: health from reported metrics, a critical alert on automatic rollback,
the webhook after an emergency rollback."""

import pytest

from conftest import actor
from migrations_app import tokens
from migrations_app.models import AuditEvent, Plan
from migrations_app.roles import CLI
from migrations_app.rollout import emergency, reconcile, services
from migrations_app.rollout.tests.conftest import age, migrated, rollout_of
from monitoring.models import Alert, WebhookDelivery

pytestmark = pytest.mark.django_db
PLAN = "truststream-v4.2"


@pytest.fixture
def edge(demo_plan, operator):
    """edge-functions migrated and at 10%, its level begun long enough ago; health from monitoring."""
    component = migrated(demo_plan.components.get(name="edge-functions"))
    services.start_rollout(rollout_of(component), actor=actor(operator))
    age(rollout_of(component), 301)
    return component


def report(client, provider, count, errors=0, duration=80):
    _, raw = tokens.create(name=f"sim-{provider}-{count}-{errors}", scopes=["metrics:write"], actor=CLI)
    items = [
        {"plan": PLAN, "component": "edge-functions", "operation": "op", "provider": provider,
         "duration_ms": duration, "success": i >= errors}
        for i in range(count)
    ]  # fmt: skip
    response = client.post(
        "/api/v1/metrics", items, content_type="application/json", headers={"Authorization": f"Bearer {raw}"}
    )
    assert response.status_code in (200, 201, 202), response.content


def look(rollout):
    return reconcile.reconcile(rollout.pk, rollout.epoch)


def test_healthy_metrics_reported_by_the_data_plane_advance_the_rollout(client, edge):
    report(client, "migrated", 60, errors=1)
    report(client, "original", 60)
    decision = look(rollout_of(edge))
    assert decision.action == "advance"
    assert rollout_of(edge).percentage == 25
    event = AuditEvent.objects.get(action="rollout.advanced")
    assert event.data["health"]["providers"]["migrated"]["samples"] == 60


def test_too_few_samples_hold_the_step_with_monitorings_reason(client, edge):
    report(client, "migrated", 10)
    decision = look(rollout_of(edge))
    assert decision.action == "wait"
    assert "only 10 samples" in decision.reason
    assert rollout_of(edge).percentage == 10


def test_a_failing_error_rate_rolls_back_and_raises_a_critical_alert(client, edge, django_capture_on_commit_callbacks):
    report(client, "migrated", 50, errors=6)
    with django_capture_on_commit_callbacks(execute=True):
        look(rollout_of(edge))
    rollout = rollout_of(edge)
    assert (rollout.state, rollout.percentage) == ("rolled_back", 0)
    assert rollout.last_reason == "health gate failed: migrated: error rate 12.0% > 5.0%"
    alert = Alert.objects.get(rule="automatic_rollback")
    assert (alert.severity, alert.scope, alert.resolved_at) == ("critical", "edge-functions", None)
    assert "error rate 12.0% > 5.0%" in alert.message
    assert WebhookDelivery.objects.filter(alert=alert, kind="alert").count() == 1


def test_after_an_emergency_rollback_the_webhook_hears_the_stability_result(
    demo_plan, operator, health_source, django_capture_on_commit_callbacks, settings
):
    from migrations_app.rollout.tests.conftest import healthy

    settings.STABILITY_CHECK_INTERVAL_SECONDS = 3600  # checks are run by hand below
    for name in ("edge-functions", "blue-green-deployment"):
        health_source[name] = healthy(name)
    emergency.emergency_rollback(demo_plan, actor=actor(operator), reason="spike")
    for attempt in (1, 2, 3):
        plan = Plan.objects.get(pk=demo_plan.pk)
        with django_capture_on_commit_callbacks(execute=True):
            emergency.verify_stability(plan.pk, plan.epoch, attempt)
    delivery = WebhookDelivery.objects.get(kind="rollback")
    assert "stability verified" in delivery.text
    assert not Alert.objects.filter(rule="stability_not_verified").exists()


def test_stability_not_verified_is_a_critical_alert(
    demo_plan, operator, health_source, django_capture_on_commit_callbacks
):
    from migrations_app.rollout.tests.conftest import database_down

    for name in ("edge-functions", "blue-green-deployment"):
        health_source[name] = database_down(name)
    emergency.emergency_rollback(demo_plan, actor=actor(operator), reason="spike")
    for attempt in range(1, 11):
        plan = Plan.objects.get(pk=demo_plan.pk)
        with django_capture_on_commit_callbacks(execute=True):
            emergency.verify_stability(plan.pk, plan.epoch, attempt)
    alert = Alert.objects.get(rule="stability_not_verified")
    assert alert.severity == "critical"
    assert "edge-functions: database unhealthy" in alert.message
