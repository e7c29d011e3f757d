"""A component run on a real worker: forward steps in order, and on a failure the
reverses of the steps it completed, last first, and only those."""

import pytest

from conftest import actor
from migrations_app.audit import AuditEvent
from migrations_app.engine import services
from migrations_app.models import Run, StepAttempt
from migrations_app.models.runs import ComponentRun
from migrations_app.states import ComponentState, PhaseState

from .conftest import component, events, logged_step, make_plan, wait_for_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_phase_run_executes_every_step_in_order_and_records_each_attempt(worker, operator, tmp_path):
    log = tmp_path / "steps.log"
    plan = make_plan([component("alpha", [logged_step(log, "a.1"), logged_step(log, "a.2"), logged_step(log, "a.3")])])
    phase = plan.phases.get()

    run = wait_for_run(services.start_phase(phase, actor=actor(operator), reason="go"))

    assert run.state == Run.State.COMPLETED
    assert events(log) == ["a.1", "a.2", "a.3"]
    alpha = plan.components.get()
    assert alpha.state == ComponentState.COMPLETED
    phase.refresh_from_db()
    assert phase.state == PhaseState.IN_PROGRESS
    attempts = list(StepAttempt.objects.filter(run=run).order_by("started_at"))
    assert [(a.step.name, a.direction, a.status) for a in attempts] == [
        ("a.1", "forward", "completed"),
        ("a.2", "forward", "completed"),
        ("a.3", "forward", "completed"),
    ]
    assert all(a.triggered_by_name == "olga-operator" and a.duration_ms is not None for a in attempts)
    assert "a.2: done" in attempts[1].output_tail
    assert ComponentRun.objects.get(run=run).state == ComponentRun.State.COMPLETED
    actions = list(AuditEvent.objects.filter(plan=plan).order_by("pk").values_list("action", flat=True))
    assert actions[actions.index("phase.started") :] == [
        "phase.started",
        "run.requested",
        "run.started",
        "component.started",
        "component.completed",
        "run.completed",
    ]


def test_a_failure_at_step_3_reverses_steps_2_and_1_only(worker, operator, tmp_path):
    log = tmp_path / "steps.log"
    steps = [logged_step(log, f"a.{i}") for i in (1, 2)] + [logged_step(log, "a.3", fail=True), logged_step(log, "a.4")]
    plan = make_plan([component("alpha", steps)])

    run = wait_for_run(services.start_phase(plan.phases.get(), actor=actor(operator)))

    assert events(log) == ["a.1", "a.2", "a.3", "undo a.2", "undo a.1"]
    assert run.state == Run.State.FAILED
    alpha = plan.components.get()
    assert alpha.state == ComponentState.ROLLED_BACK
    assert "step 3 'a.3' failed" in alpha.last_error and "exited with status 3" in alpha.last_error
    statuses = [(a.step.name, a.direction, a.status) for a in StepAttempt.objects.filter(run=run)]
    assert statuses == [
        ("a.1", "forward", "rolled_back"),
        ("a.2", "forward", "rolled_back"),
        ("a.3", "forward", "failed"),
        ("a.2", "reverse", "completed"),
        ("a.1", "reverse", "completed"),
    ]
    failed = StepAttempt.objects.get(run=run, status="failed")
    assert "failing on purpose" in failed.output_tail
    assert "StepFailed" in failed.error_trace
