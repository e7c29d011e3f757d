"""The sweeper on arranged rows: a dead worker's component, a lost message."""

from datetime import timedelta

import pytest
from django.utils import timezone

from migrations_app import transitions
from migrations_app.engine import config, sweeper
from migrations_app.models import Run, StepAttempt
from migrations_app.models.runs import ComponentRun
from migrations_app.roles import CLI
from migrations_app.states import ComponentState

from .conftest import component, logged_step, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(tmp_path):
    """A run whose one component's worker went quiet 10 s ago, one step done."""
    log = tmp_path / "log"
    plan = make_plan([component("alpha", [logged_step(log, "a.1"), logged_step(log, "a.2")])])
    alpha = plan.components.get()
    run = Run.objects.create(plan=plan, phase=plan.phases.get(), state="running", triggered_by_name="olga")
    past = timezone.now() - timedelta(seconds=10)
    cr = ComponentRun.objects.create(run=run, component=alpha, state="running", worker="w1:42", lease_expires_at=past)
    transitions.apply(alpha, ComponentState.RUNNING, actor=CLI)
    one, two = alpha.steps.all()
    StepAttempt.objects.create(
        run=run, component=alpha, step=one, status="completed", triggered_by_name="olga", started_at=past
    )
    return run, cr, alpha, two, past


def test_a_worker_that_died_while_reversing_leaves_the_component_rollback_failed_not_reversed_again(running):
    run, cr, alpha, two, past = running
    transitions.apply(alpha, ComponentState.ROLLING_BACK, actor=CLI)
    reverse = StepAttempt.objects.create(
        run=run,
        component=alpha,
        step=two,
        direction="reverse",
        status="started",
        triggered_by_name="olga",
        worker="w1:42",
        started_at=past,
        lease_expires_at=past,
    )

    assert sweeper.sweep() == {"interrupted": 1, "redispatched": 0}

    reverse.refresh_from_db()
    cr.refresh_from_db()
    alpha.refresh_from_db()
    assert reverse.status == StepAttempt.Status.INTERRUPTED
    assert cr.state == ComponentRun.State.ROLLBACK_FAILED
    assert alpha.state == ComponentState.ROLLBACK_FAILED
    assert alpha.last_error.startswith("reverse of step 2 'a.2' was interrupted: its worker w1:42 stopped")
    run.refresh_from_db()
    assert run.state == Run.State.FAILED and "Rollback failed: alpha." in run.summary


def test_a_worker_that_died_going_forward_sends_the_component_down_its_failure_path(running):
    run, cr, alpha, two, past = running
    forward = StepAttempt.objects.create(
        run=run,
        component=alpha,
        step=two,
        status="started",
        triggered_by_name="olga",
        worker="w1:42",
        started_at=past,
        lease_expires_at=past,
    )

    sweeper.sweep()

    forward.refresh_from_db()
    cr.refresh_from_db()
    alpha.refresh_from_db()
    assert forward.status == StepAttempt.Status.INTERRUPTED
    assert (cr.state, cr.failed, cr.dispatches) == (ComponentRun.State.UNDO_QUEUED, True, 1)
    assert alpha.state == ComponentState.FAILED
    assert run.state == Run.State.RUNNING


def test_a_live_worker_keeps_its_component(running):
    run, cr, alpha, two, past = running
    ComponentRun.objects.filter(pk=cr.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=30))
    assert sweeper.sweep() == {"interrupted": 0, "redispatched": 0}
    cr.refresh_from_db()
    assert cr.state == ComponentRun.State.RUNNING


def test_a_message_lost_before_any_worker_took_it_is_sent_again_a_bounded_number_of_times(running):
    run, cr, alpha, two, past = running
    long_ago = timezone.now() - timedelta(seconds=config.REDISPATCH_AFTER_SECONDS + 1)
    ComponentRun.objects.filter(pk=cr.pk).update(state="queued", queued_at=long_ago, dispatches=1)

    sent = []
    for _ in range(config.MAX_DISPATCHES + 2):
        sent.append(sweeper.sweep()["redispatched"])
        ComponentRun.objects.filter(pk=cr.pk).update(queued_at=long_ago)

    assert sum(sent) == config.MAX_DISPATCHES - 1
    assert ComponentRun.objects.get(pk=cr.pk).dispatches == config.MAX_DISPATCHES
