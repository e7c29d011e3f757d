"""After a run: retry a failed component, roll back a migrated one (the planned rollback's
last stage), and what open dashboards receive while it happens."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from conftest import actor
from migrations_app import broadcast
from migrations_app.engine import services
from migrations_app.models import Run, StepAttempt
from migrations_app.states import ComponentState

from .conftest import component, events, logged_step, make_plan, wait_for_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_failed_component_is_retried_from_its_first_step_and_then_rolled_back_last_step_first(
    worker, operator, tmp_path
):
    log, fixed = tmp_path / "steps.log", tmp_path / "config-fixed"
    steps = [logged_step(log, "a.1"), logged_step(log, "a.2", extra=["--fail-unless", str(fixed)])]
    steps.append(logged_step(log, "a.3"))
    plan = make_plan([component("alpha", steps, risk="medium")])
    first = wait_for_run(services.start_phase(plan.phases.get(), actor=actor(operator)))
    assert first.state == Run.State.FAILED
    fixed.touch()

    retry = wait_for_run(services.retry_component(plan.components.get(), actor=actor(operator), reason="fixed"))

    assert retry.state == Run.State.COMPLETED
    assert plan.components.get().state == ComponentState.COMPLETED
    assert events(log) == ["a.1", "a.2", "undo a.1", "a.1", "a.2", "a.3"]

    rollback = wait_for_run(
        services.rollback_component(plan.components.get(), actor=actor(operator), reason="traffic at 0%")
    )

    assert rollback.state == Run.State.COMPLETED, rollback.summary
    assert plan.components.get().state == ComponentState.ROLLED_BACK
    assert events(log)[6:] == ["undo a.3", "undo a.2", "undo a.1"]
    reverses = StepAttempt.objects.filter(run=rollback).values_list("step__name", "direction", "status")
    assert list(reverses) == [
        ("a.3", "reverse", "completed"),
        ("a.2", "reverse", "completed"),
        ("a.1", "reverse", "completed"),
    ]
    forward = StepAttempt.objects.filter(run=retry).values_list("status", flat=True)
    assert set(forward) == {StepAttempt.Status.ROLLED_BACK}


def test_dashboards_receive_steps_log_lines_and_states_as_they_happen(worker, operator, tmp_path):
    log = tmp_path / "steps.log"
    plan = make_plan([component("alpha", [logged_step(log, "a.1")])])
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(broadcast.plan_group(plan.pk), channel)

    run = wait_for_run(services.start_phase(plan.phases.get(), actor=actor(operator)))

    async def drain():
        received = []
        try:
            while True:
                received.append(await asyncio.wait_for(layer.receive(channel), timeout=1))
        except TimeoutError:
            return received

    messages = [(m["event"], m["payload"]) for m in async_to_sync(drain)()]
    names = [event for event, _ in messages]
    started = names.index("step.started")
    lines = [p["line"] for e, p in messages if e == "step.log"]
    assert lines == ["a.1: started", "a.1: done"]
    assert started < names.index("step.log") < names.index("step.finished")
    finished = next(p for e, p in messages if e == "step.finished")
    assert finished["component"] == "alpha" and finished["status"] == "completed"
    component_moves = [(p["from"], p["to"]) for e, p in messages if e == "component.changed"]
    assert component_moves == [("pending", "running"), ("running", "completed")]
    run_states = [p["state"] for e, p in messages if e == "run.changed" and "state" in p]
    assert run_states == ["running", "completed"] and run.state == "completed"
