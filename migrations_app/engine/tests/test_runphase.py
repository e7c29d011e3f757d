"""`manage.py runphase` on the demo plan's component migration phase: its five components
in the procedure's dependency order, agent-service and trust-service at the same time."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from migrations_app.engine.executors import execute
from migrations_app.models import Run
from migrations_app.models.runs import ComponentRun
from migrations_app.states import ComponentState

from .helpers import promote
from .test_executors import Server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def simulator(monkeypatch):
    """Stands in for the traffic simulator's health URLs: 200 for every component."""
    server = Server()
    for name in ("agent-repository", "agent-service", "trust-service", "coordination-service", "edge-functions"):
        server.script[f"/health/{name}"] = [(200, {"status": "ok"})]
    monkeypatch.setenv("SIMULATOR_URL", server.url)
    yield server
    server.httpd.shutdown()


def test_runphase_migrates_the_demo_components_in_dependency_order_with_independent_ones_overlapping(
    demo_plan, simulator, target_sqlite
):
    # What phase 1 left in the target database: the migration_log table phase 3 writes to.
    for step in demo_plan.components.get(name="migration-tracking").steps.filter(kind="sql"):
        execute(step.forward, database=step.database, timeout=step.timeout_seconds)
    promote(demo_plan.phases.get(key="setup"))
    promote(demo_plan.phases.get(key="abstraction"))
    out = StringIO()

    call_command("runphase", "truststream-v4.2", "migration", "--reason", "demo check", stdout=out)

    run = Run.objects.get(phase__key="migration")
    assert run.state == Run.State.COMPLETED, out.getvalue()
    rows = {cr.component.name: cr for cr in ComponentRun.objects.filter(run=run).select_related("component")}
    assert set(rows) == {"agent-repository", "agent-service", "trust-service", "coordination-service", "edge-functions"}
    for dependency, dependent in [
        ("agent-repository", "agent-service"),
        ("agent-repository", "trust-service"),
        ("agent-service", "coordination-service"),
        ("trust-service", "coordination-service"),
        ("coordination-service", "edge-functions"),
    ]:
        assert rows[dependency].finished_at <= rows[dependent].started_at
    agent, trust = rows["agent-service"], rows["trust-service"]
    assert agent.started_at < trust.finished_at and trust.started_at < agent.finished_at
    assert set(demo_plan.components.filter(phase__key="migration").values_list("state", flat=True)) == {
        ComponentState.COMPLETED
    }
    printed = out.getvalue()
    assert "trust-service: verify agent reflects score" in printed
    assert "run 1: completed. Completed: agent-repository, agent-service, trust-service" in printed.replace(
        f"run {run.pk}:", "run 1:"
    )


def test_runphase_refuses_a_phase_whose_gate_is_closed_and_starts_nothing(demo_plan):
    with pytest.raises(CommandError, match="phase 'abstraction' is pending: it must be promoted"):
        call_command("runphase", "truststream-v4.2", "migration", "--no-worker", stdout=StringIO())
    assert not Run.objects.exists()
