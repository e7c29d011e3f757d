"""A step never runs twice by accident: a worker killed mid-step, a task delivered twice."""

import os
import signal

import pytest

from conftest import actor
from migrations_app.engine import services, sweeper, tasks
from migrations_app.models import Run, StepAttempt
from migrations_app.models.runs import ComponentRun
from migrations_app.states import ComponentState

from .conftest import LEASE_SECONDS, component, events, logged_step, make_plan, wait_for_run, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def begins(log, label):
    return [line for line in log.read_text().splitlines() if line.startswith(f"{label} begin")]


def test_a_worker_killed_mid_step_leaves_it_interrupted_never_rerun_and_the_component_rolled_back(
    worker, operator, tmp_path
):
    log = tmp_path / "steps.log"
    steps = [logged_step(log, "a.1"), logged_step(log, "a.2", sleep=30), logged_step(log, "a.3")]
    plan = make_plan([component("alpha", steps, risk="medium")])
    run = services.start_phase(plan.phases.get(), actor=actor(operator))
    attempt = wait_until(
        lambda: (
            StepAttempt.objects.filter(run=run, step__name="a.2", status="started").first()
            if log.exists() and begins(log, "a.2")
            else None
        ),
        what="step a.2 to be running",
    )

    os.kill(int(attempt.worker.rsplit(":", 1)[1]), signal.SIGKILL)

    def swept():
        sweeper.sweep()
        run.refresh_from_db()
        return run.state not in Run.ACTIVE_STATES

    wait_until(swept, what="the sweeper to take the component over and the run to end")
    attempt.refresh_from_db()
    assert attempt.status == StepAttempt.Status.INTERRUPTED
    assert "stopped: its lease ran out" in attempt.error_message
    assert len(begins(log, "a.2")) == 1
    assert events(log) == ["a.1", "undo a.1"]
    alpha = plan.components.get()
    assert alpha.state == ComponentState.ROLLED_BACK
    assert "step 2 'a.2' was interrupted" in alpha.last_error
    assert run.state == Run.State.FAILED
    row = ComponentRun.objects.get(run=run)
    assert row.state == ComponentRun.State.FAILED and row.failed
    assert not StepAttempt.objects.filter(run=run, step__name="a.3").exists()
    # A second sweep finds nothing more to do.
    assert sweeper.sweep() == {"interrupted": 0, "redispatched": 0}


def test_a_task_delivered_again_after_its_component_ran_does_nothing(worker, operator, tmp_path):
    log = tmp_path / "steps.log"
    plan = make_plan([component("alpha", [logged_step(log, "a.1"), logged_step(log, "a.2")])])
    run = wait_for_run(services.start_phase(plan.phases.get(), actor=actor(operator)))
    row = ComponentRun.objects.get(run=run)
    assert row.deliveries == 1

    tasks.run_component.delay(row.pk)
    tasks.run_component_rollback.delay(row.pk)

    wait_until(lambda: ComponentRun.objects.get(pk=row.pk).deliveries == 3, what="both messages to be received")
    assert events(log) == ["a.1", "a.2"]
    assert StepAttempt.objects.filter(run=run).count() == 2
    assert plan.components.get().state == ComponentState.COMPLETED


def test_a_step_longer_than_the_lease_keeps_its_worker_while_the_sweeper_runs(worker, operator, tmp_path):
    log = tmp_path / "steps.log"
    plan = make_plan([component("alpha", [logged_step(log, "a.1", sleep=2 * LEASE_SECONDS)])])
    run = services.start_phase(plan.phases.get(), actor=actor(operator))

    def swept_until_done():
        assert sweeper.sweep()["interrupted"] == 0
        run.refresh_from_db()
        return run.state not in Run.ACTIVE_STATES

    wait_until(swept_until_done, what="the run to end")
    assert run.state == Run.State.COMPLETED
    assert events(log) == ["a.1"]
