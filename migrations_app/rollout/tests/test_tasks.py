"""The controller's Celery tasks, run by a real worker on Redis."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from conftest import actor
from controlplane.celery import app
from migrations_app.models import AuditEvent, Plan
from migrations_app.models.plan import Stability
from migrations_app.rollout import emergency, services, tasks
from migrations_app.rollout.tests.conftest import age, rollout_of
from migrations_app.schedule import BEAT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as running:
        yield running


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_beat_runs_reconcile_and_expiry_on_the_control_queue():
    app.loader.import_default_modules()
    for entry in BEAT.values():
        assert entry["task"] in app.tasks
        assert entry["options"]["queue"] == "control"


def test_the_beat_task_advances_a_healthy_rollout(worker, beta, operator):
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    age(rollout_of(beta), 301)
    tasks.reconcile_all.delay()
    assert wait_for(lambda: rollout_of(beta).percentage == 25)
    assert AuditEvent.objects.filter(action="rollout.advanced", actor_name="system").count() == 1


def test_after_an_emergency_rollback_the_worker_verifies_stability(worker, beta, operator, settings):
    settings.STABILITY_CHECK_INTERVAL_SECONDS = 0
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    emergency.emergency_rollback(Plan.objects.get(pk=beta.plan_id), actor=actor(operator), reason="spike")
    assert wait_for(lambda: Plan.objects.get(pk=beta.plan_id).stability == Stability.VERIFIED)
    plan = Plan.objects.get(pk=beta.plan_id)
    assert (plan.stability_attempts, plan.stability_passes) == (3, 3)
    assert AuditEvent.objects.filter(action="plan.emergency_stability_check").count() == 3
    assert AuditEvent.objects.filter(action="plan.emergency_stability_verified").count() == 1


def test_a_verification_whose_check_was_lost_is_resumed_by_the_reconcile_beat(beta, operator, settings):
    settings.STABILITY_CHECK_INTERVAL_SECONDS = 0
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    emergency.emergency_rollback(Plan.objects.get(pk=beta.plan_id), actor=actor(operator), reason="spike")
    app.control.purge()  # the first check's message is lost with the process that held it
    stalled_since = timezone.now() - emergency.stall_after() - timedelta(seconds=1)
    Plan.objects.filter(pk=beta.plan_id).update(stability_checked_at=stalled_since)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        assert not wait_for(lambda: Plan.objects.get(pk=beta.plan_id).stability_attempts > 0, timeout=1)
        tasks.reconcile_all.delay()
        assert wait_for(lambda: Plan.objects.get(pk=beta.plan_id).stability == Stability.VERIFIED)
    assert AuditEvent.objects.filter(action="plan.emergency_stability_check").count() == 3


def test_a_verification_under_way_before_its_checks_were_timed_is_resumed_by_the_reconcile_beat(
    beta, operator, settings
):
    settings.STABILITY_CHECK_INTERVAL_SECONDS = 0
    services.start_rollout(rollout_of(beta), actor=actor(operator))
    emergency.emergency_rollback(Plan.objects.get(pk=beta.plan_id), actor=actor(operator), reason="spike")
    app.control.purge()
    # As the schema migration that added the mark left a plan that was verifying then.
    Plan.objects.filter(pk=beta.plan_id).update(stability_checked_at=None)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        tasks.reconcile_all.delay()
        assert wait_for(lambda: Plan.objects.get(pk=beta.plan_id).stability == Stability.VERIFIED)
