"""Alert rules from the procedure: each opens once, notifies the webhook once, resolves by
itself; people acknowledge; other parts raise event alerts."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from celery.contrib.testing.worker import start_worker

from conftest import DEMO_PLAN
from controlplane.celery import app
from migrations_app import broadcast, tokens
from migrations_app.models import AuditEvent
from migrations_app.planfile import load_plan, parse_plan_file
from migrations_app.roles import CLI, SYSTEM, Actor
from monitoring import alerts, notify
from monitoring.models import Alert, WebhookDelivery
from monitoring.tests.conftest import report

PLAN = "truststream-v4.2"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


@pytest.fixture
def edge(demo_plan):
    return demo_plan.components.select_related("plan", "rollout").get(name="edge-functions")


@pytest.fixture
def webhook(http_server, settings):
    settings.ALERT_WEBHOOK_URL = f"{http_server.url}/hooks/T000/B000"
    return http_server


def bad_error_rate(at):
    report(PLAN, "edge-functions", "migrated", [80] * 60, errors=6, at=at)


def slow_p95(at):
    report(PLAN, "edge-functions", "migrated", [100] * 50 + [5000] * 10, at=at)


def providers_differ(at):
    report(PLAN, "edge-functions", "original", [100] * 60, at=at)
    report(PLAN, "edge-functions", "migrated", [700] * 60, at=at)


def all_well(at):
    report(PLAN, "edge-functions", "original", [100] * 60, at=at)
    report(PLAN, "edge-functions", "migrated", [110] * 60, at=at)


RULES = [
    ("error_rate", "critical", bad_error_rate, "High error rate: migrated 10.0% (threshold 5.0%)"),
    ("p95_latency", "warning", slow_p95, "High response times: P95 migrated"),
    ("provider_difference", "info", providers_differ, "average latency differs by 600 ms"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("rule", "severity", "make_it_hold", "message"), RULES)
def test_each_rule_opens_once_notifies_once_and_resolves_by_itself(
    edge, webhook, django_capture_on_commit_callbacks, rule, severity, make_it_hold, message
):
    make_it_hold(NOW)
    with django_capture_on_commit_callbacks() as published:
        alerts.evaluate_component(edge, now=NOW)
    alerts.evaluate_component(edge, now=NOW + timedelta(seconds=10))  # still holds: no second alert

    alert = Alert.objects.get()
    assert (alert.rule, alert.severity, alert.scope, alert.occurrences) == (rule, severity, "edge-functions", 2)
    assert message in alert.message
    assert alert.state == "open"
    assert AuditEvent.objects.filter(action="alert.opened", plan=edge.plan).count() == 1
    events = [cb.args[1] for cb in published if getattr(cb, "args", None) and len(cb.args) == 3]
    assert broadcast.Event.ALERT_CHANGED in events

    assert notify.deliver_due() == 1
    assert notify.deliver_due() == 0
    assert len(webhook.received) == 1
    sent = json.loads(webhook.received[0]["body"])
    assert sent["text"].startswith(f"[Switchyard {PLAN}] {severity.upper()} {PLAN}/edge-functions:")
    assert sent["switchyard"]["kind"] == "alert"
    assert sent["switchyard"]["data"]["rule"] == rule
    assert webhook.received[0]["path"] == "/hooks/T000/B000"

    later = NOW + timedelta(minutes=10)  # the bad window has slid by
    all_well(later)
    alerts.evaluate_component(edge, now=later)
    alert.refresh_from_db()
    assert alert.state == "resolved"
    assert alert.resolved_reason == "the condition cleared over the last 300 s"
    assert AuditEvent.objects.filter(action="alert.resolved", plan=edge.plan).count() == 1
    assert notify.deliver_due() == 0
    assert len(webhook.received) == 1
    assert WebhookDelivery.objects.get().state == WebhookDelivery.State.DELIVERED


@pytest.mark.django_db
def test_a_recurring_condition_opens_a_new_alert(edge, webhook):
    bad_error_rate(NOW)
    alerts.evaluate_component(edge, now=NOW)
    all_well(NOW + timedelta(minutes=10))
    alerts.evaluate_component(edge, now=NOW + timedelta(minutes=10))
    bad_error_rate(NOW + timedelta(minutes=20))
    alerts.evaluate_component(edge, now=NOW + timedelta(minutes=20))
    assert [(a.rule, a.state) for a in Alert.objects.order_by("id")] == [
        ("error_rate", "resolved"),
        ("error_rate", "open"),
    ]
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.django_db
def test_too_few_samples_raise_nothing(edge, webhook):
    report(PLAN, "edge-functions", "migrated", [80] * 3, errors=3, at=NOW)
    alerts.evaluate_component(edge, now=NOW)
    assert not Alert.objects.exists()


@pytest.mark.django_db
def test_raise_alert_keeps_one_open_alert_per_rule_and_component(edge, webhook):
    first = alerts.raise_alert(
        edge.plan, component=edge, rule="automatic_rollback", severity="critical", message="rolled back", data={"n": 1}
    )
    second = alerts.raise_alert(
        edge.plan, component=edge, rule="automatic_rollback", severity="critical", message="again", data={"n": 2}
    )
    assert first.pk == second.pk
    second.refresh_from_db()
    assert (second.occurrences, second.message, second.data) == (2, "again", {"n": 2})
    plan_wide = alerts.raise_alert(edge.plan, rule="automatic_rollback", severity="critical", message="whole plan")
    assert plan_wide.pk != first.pk and plan_wide.scope == ""
    assert WebhookDelivery.objects.filter(kind="alert").count() == 2


@pytest.mark.django_db
def test_a_bad_severity_is_refused(edge):
    with pytest.raises(ValueError, match="severity must be one of critical, warning, info"):
        alerts.raise_alert(edge.plan, rule="x", severity="fatal", message="m")
    assert not Alert.objects.exists()


def event_alert(edge):
    return alerts.raise_alert(
        edge.plan, component=edge, rule="automatic_rollback", severity="critical", message="error rate 12%"
    )


@pytest.mark.django_db
def test_an_operator_acknowledges_an_alert(client, edge, operator):
    alert = event_alert(edge)
    client.force_login(operator)
    response = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert alert.acknowledged_by == operator
    assert response.json()["acknowledged_by"] == operator.username
    assert AuditEvent.objects.filter(action="alert.acknowledged", actor=operator).exists()
    # An event alert has no condition to clear: its acknowledgement closes it.
    assert alert.state == "resolved"
    assert alert.resolved_reason == f"acknowledged by {operator.username}"


@pytest.mark.django_db
def test_a_rule_alert_stays_open_after_acknowledgement_until_its_condition_clears(edge, operator):
    bad_error_rate(NOW)
    alerts.evaluate_component(edge, now=NOW)
    alert = Alert.objects.get()
    alerts.acknowledge(alert, actor=Actor.for_user(operator))
    alert.refresh_from_db()
    assert alert.state == "acknowledged"


@pytest.mark.django_db
def test_acknowledging_twice_is_a_conflict(client, edge, operator, admin_user):
    alert = event_alert(edge)
    alerts.acknowledge(alert, actor=Actor.for_user(admin_user))
    client.force_login(operator)
    response = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 409
    assert f"already acknowledged by {admin_user.username}" in response.json()["detail"]


@pytest.mark.django_db
def test_viewers_and_approvers_may_not_acknowledge(client, edge, viewer, approver):
    alert = event_alert(edge)
    for person in (viewer, approver):
        client.force_login(person)
        response = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge")
        assert response.status_code == 403
        assert "operator or admin role" in response.json()["detail"]
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


@pytest.mark.django_db
def test_a_service_token_may_not_acknowledge(client, edge):
    alert = event_alert(edge)
    raw = tokens.create(name="pipeline", scopes=["operate"], actor=CLI)[1]
    response = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403
    assert "only a person acknowledges" in response.json()["detail"]


@pytest.mark.django_db
def test_open_alerts_are_listed_for_the_plan(client, edge, viewer):
    event_alert(edge)
    client.force_login(viewer)
    listed = client.get(f"/api/v1/plans/{PLAN}/alerts").json()
    assert [(a["rule"], a["component"], a["state"]) for a in listed] == [
        ("automatic_rollback", "edge-functions", "open")
    ]


@pytest.mark.django_db
def test_a_failing_webhook_is_retried_with_backoff_then_delivered(edge, webhook):
    webhook.statuses = [500, 503]
    delivery = notify.send(edge.plan, "rollback", "edge-functions rolled back", {"percentage": 0})
    started = datetime.now(UTC)
    notify.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert notify.deliver_due(now=started + timedelta(seconds=2)) == 0  # backing off
    assert notify.deliver_due(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (2, 503)
    assert (delivery.next_attempt_at - started).total_seconds() >= 30
    assert notify.deliver_due(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("delivered", 3, "")
    assert len(webhook.received) == 3


@pytest.mark.django_db
def test_a_webhook_that_never_answers_is_marked_failed(edge, webhook):
    webhook.default_status = 500
    delivery = notify.send(edge.plan, "promotion", "phase promoted")
    for _ in range(notify.MAX_ATTEMPTS + 2):
        delivery.refresh_from_db()
        notify.deliver_due(now=delivery.next_attempt_at or datetime.now(UTC))
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", notify.MAX_ATTEMPTS)
    assert len(webhook.received) == notify.MAX_ATTEMPTS


@pytest.mark.django_db
def test_without_a_webhook_url_deliveries_are_logged_as_skipped(edge, settings):
    settings.ALERT_WEBHOOK_URL = ""
    delivery = notify.send(edge.plan, "alert", "text")
    assert delivery.state == WebhookDelivery.State.SKIPPED
    assert notify.deliver_due() == 0


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_delivers_the_webhook_after_commit(webhook):
    spec, source = parse_plan_file(DEMO_PLAN)
    plan = load_plan(spec, source, actor=CLI).plan
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        alerts.raise_alert(plan, rule="automatic_rollback", severity="critical", message="rolled back", actor=SYSTEM)
        for _ in range(100):
            if WebhookDelivery.objects.filter(state="delivered").exists():
                break
            time.sleep(0.1)
    assert WebhookDelivery.objects.get().state == WebhookDelivery.State.DELIVERED
    assert len(webhook.received) == 1


@pytest.mark.django_db
def test_a_notification_whose_task_cannot_be_sent_is_delivered_by_the_sweep(
    edge, webhook, broker_unreachable, django_capture_on_commit_callbacks, caplog
):
    # The moment something goes wrong enough to notify may be a Redis outage: the delivery
    # is kept, the warning names the task as called, and the periodic sweep sends it.
    with django_capture_on_commit_callbacks(execute=True):
        delivery = notify.send(edge.plan, "rollback", "edge-functions rolled back")
    assert f"monitoring.tasks.deliver_webhook({delivery.pk}) not sent" in caplog.text
    assert "deliver_due" in caplog.text
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.PENDING, 0)
    assert notify.deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.DELIVERED
    assert [json.loads(r["body"])["text"] for r in webhook.received] == [
        "[Switchyard truststream-v4.2] edge-functions rolled back"
    ]
