"""The migration status: the latest attempt of each component (the procedure's
`migration_status` view: the last migration_log row per component and phase), and a
run's full log."""

from django.db.models import OuterRef, Subquery

from migrations_app.models import Component, Plan, Run, StepAttempt
from migrations_app.models.runs import ComponentRun


def migration_status(plan: Plan) -> list[dict]:
    """One row per component of the plan, in plan order: its state, and what its latest
    run did with it (None when it never ran)."""
    latest = ComponentRun.objects.filter(component=OuterRef("pk")).order_by("-pk").values("pk")[:1]
    components = list(Component.objects.filter(plan=plan).select_related("phase").annotate(latest_id=Subquery(latest)))
    runs = ComponentRun.objects.select_related("run").in_bulk([c.latest_id for c in components if c.latest_id])
    rows = []
    for component in components:
        cr = runs.get(component.latest_id)
        rows.append(
            {
                "component": component.name,
                "phase": component.phase.key,
                "state": component.state,
                "last_error": component.last_error,
                "latest": None if cr is None else component_run_row(cr),
            }
        )
    return rows


def component_run_row(cr: ComponentRun) -> dict:
    return {
        "run": cr.run_id,
        "kind": cr.run.kind,
        "status": cr.state,
        "reason": cr.reason,
        "triggered_by": cr.run.triggered_by_name,
        "started_at": cr.started_at,
        "finished_at": cr.finished_at,
        "duration_ms": cr.duration_ms,
        "worker": cr.worker,
    }


def run_log(run: Run) -> dict:
    """A run with its components and every step attempt, in order."""
    attempts = StepAttempt.objects.filter(run=run).select_related("step", "component").order_by("started_at", "pk")
    return {
        "id": run.pk,
        "plan": run.plan.key,
        "phase": run.phase.key,
        "kind": run.kind,
        "state": run.state,
        "triggered_by": run.triggered_by_name,
        "reason": run.reason,
        "summary": run.summary,
        "stop_reason": run.stop_reason,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "components": [
            {"component": cr.component.name, **component_run_row(cr)}
            for cr in run.component_runs.select_related("component", "run")
        ],
        "attempts": [
            {
                "id": a.pk,
                "component": a.component.name,
                "step": a.step.name,
                "position": a.step.position,
                "direction": a.direction,
                "status": a.status,
                "delivery": a.delivery,
                "worker": a.worker,
                "started_at": a.started_at,
                "finished_at": a.finished_at,
                "duration_ms": a.duration_ms,
                "output_tail": a.output_tail,
                "error_message": a.error_message,
            }
            for a in attempts
        ],
    }
