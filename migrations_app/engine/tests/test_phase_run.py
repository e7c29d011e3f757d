"""A phase run on real workers: dependency order, parallel independent components, and
the procedure's risk policy (high risk aborts and unwinds, low or medium skips exactly
its dependents)."""

import pytest

from conftest import actor
from migrations_app.engine import services
from migrations_app.models import Run, StepAttempt
from migrations_app.models.runs import ComponentRun
from migrations_app.states import ComponentState

from .conftest import component, events, logged_step, make_plan, wait_for_run, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
C = ComponentState


def diamond(log, *, failing: str = "", risk: dict | None = None, sleep: float = 0.0):
    """repo <- (agent, trust) <- coordination <- edge: the procedure's phase 3 shape."""
    risk = risk or {}

    def steps(name):
        return [logged_step(log, f"{name}.1", sleep=sleep), logged_step(log, f"{name}.2", fail=name == failing)]

    return [
        component("repo", steps("repo"), risk=risk.get("repo", "low")),
        component("agent", steps("agent"), depends_on=["repo"], risk=risk.get("agent", "medium")),
        component("trust", steps("trust"), depends_on=["repo"], risk=risk.get("trust", "medium")),
        component("coord", steps("coord"), depends_on=["agent", "trust"], risk=risk.get("coord", "high")),
        component("edge", steps("edge"), depends_on=["coord"], risk=risk.get("edge", "high")),
        component("loner", steps("loner"), risk=risk.get("loner", "low")),
    ]


def finished_at(log, label):
    return events(log).index(label)


def test_components_run_in_dependency_order_and_independent_ones_overlap(worker, operator, tmp_path):
    log = tmp_path / "steps.log"
    plan = make_plan(diamond(log, sleep=1.0))

    run = wait_for_run(services.start_phase(plan.phases.get(), actor=actor(operator)))

    assert run.state == Run.State.COMPLETED, run.summary
    assert set(plan.components.values_list("state", flat=True)) == {C.COMPLETED}
    order = events(log)
    for dependency, dependent in [("repo", "agent"), ("repo", "trust"), ("agent", "coord"), ("trust", "coord")]:
        assert order.index(f"{dependency}.2") < order.index(f"{dependent}.1")
    assert order.index("coord.2") < order.index("edge.1")
    intervals = {cr.component.name: (cr.started_at, cr.finished_at) for cr in ComponentRun.objects.filter(run=run)}
    (agent_start, agent_end), (trust_start, trust_end) = intervals["agent"], intervals["trust"]
    assert agent_start < trust_end and trust_start < agent_end, intervals


def test_a_medium_risk_failure_rolls_it_back_and_skips_exactly_its_dependents(worker, operator, tmp_path):
    log = tmp_path / "steps.log"
    plan = make_plan(diamond(log, failing="trust"))

    run = wait_for_run(services.start_phase(plan.phases.get(), actor=actor(operator)))

    assert run.state == Run.State.FAILED
    states = dict(plan.components.values_list("name", "state"))
    assert states == {
        "repo": C.COMPLETED,
        "agent": C.COMPLETED,
        "trust": C.ROLLED_BACK,
        "coord": C.SKIPPED,
        "edge": C.SKIPPED,
        "loner": C.COMPLETED,
    }
    rows = {cr.component.name: cr for cr in ComponentRun.objects.filter(run=run)}
    assert rows["trust"].state == ComponentRun.State.FAILED
    assert rows["coord"].reason == "depends on trust, which failed"
    assert rows["edge"].reason == "depends on coord, which was skipped"
    order = events(log)
    assert "undo trust.1" in order and "undo repo.1" not in order and "undo agent.1" not in order
    assert not any(label.startswith(("coord", "edge")) for label in order)
    assert "Skipped: coord, edge." in run.summary and "Failed: trust." in run.summary


def test_a_high_risk_failure_aborts_the_run_and_rolls_back_what_it_completed_in_reverse_order(
    worker, operator, tmp_path
):
    log = tmp_path / "steps.log"
    plan = make_plan(diamond(log, failing="coord"))

    run = wait_for_run(services.start_phase(plan.phases.get(), actor=actor(operator)))

    assert run.state == Run.State.ABORTED
    assert run.stop_reason.startswith("coord (high risk) failed: step 2 'coord.2' failed")
    states = dict(plan.components.values_list("name", "state"))
    assert states["coord"] == C.ROLLED_BACK
    assert states["edge"] == C.SKIPPED
    assert states["repo"] == states["agent"] == states["trust"] == states["loner"] == C.ROLLED_BACK
    order = events(log)
    # Reverse dependency order: agent and trust are undone before repo, coord's own undo first.
    assert order.index("undo coord.1") < order.index("undo agent.2")
    for dependent in ("agent", "trust"):
        assert order.index(f"undo {dependent}.1") < order.index("undo repo.2")
    assert order.count("undo repo.1") == 1
    reverses = StepAttempt.objects.filter(run=run, direction="reverse")
    assert set(reverses.values_list("status", flat=True)) == {"completed"}
    assert ComponentRun.objects.get(run=run, component__name="edge").reason.startswith("the run was aborted: coord")


def test_a_cancelled_run_stops_after_the_current_step_then_rolls_back(worker, operator, tmp_path):
    log = tmp_path / "steps.log"
    steps = [logged_step(log, "slow.1", sleep=2.0), logged_step(log, "slow.2"), logged_step(log, "slow.3")]
    plan = make_plan([component("slow", steps), component("after", [logged_step(log, "after.1")], depends_on=["slow"])])
    run = services.start_phase(plan.phases.get(), actor=actor(operator))
    wait_until(lambda: StepAttempt.objects.filter(run=run, step__name="slow.1").exists(), what="slow.1 to start")

    services.cancel_run(run, actor=actor(operator), reason="wrong window")
    services.cancel_run(run, actor=actor(operator), reason="clicked twice")
    run = wait_for_run(run)

    assert run.state == Run.State.CANCELLED
    assert run.stop_reason == "cancelled by olga-operator: wrong window"
    assert events(log) == ["slow.1", "undo slow.1"]
    states = dict(plan.components.values_list("name", "state"))
    assert states == {"slow": C.ROLLED_BACK, "after": C.SKIPPED}
