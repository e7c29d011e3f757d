"""The engine's endpoints: start a phase, retry, roll back, cancel; the migration status
and a run's log. Same roles as the dashboard (the services check them)."""

from datetime import datetime

from ninja import Router, Schema, Status

from migrations_app.roles import Permission

from . import services, status

router = Router(tags=["migrations"])


class ReasonIn(Schema):
    reason: str = ""


class RollbackIn(Schema):
    reason: str = ""
    override: bool = False


class RunOut(Schema):
    id: int
    plan: str
    phase: str
    component: str | None
    kind: str
    state: str
    triggered_by: str
    reason: str
    summary: str


class LatestOut(Schema):
    run: int
    kind: str
    status: str
    reason: str
    triggered_by: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    worker: str


class StatusRowOut(Schema):
    component: str
    phase: str
    state: str
    last_error: str
    latest: LatestOut | None


class ComponentRunOut(LatestOut):
    component: str


class AttemptOut(Schema):
    id: int
    component: str
    step: str
    position: int
    direction: str
    status: str
    delivery: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    output_tail: str
    error_message: str


class RunLogOut(Schema):
    id: int
    plan: str
    phase: str
    kind: str
    state: str
    triggered_by: str
    reason: str
    summary: str
    stop_reason: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    components: list[ComponentRunOut]
    attempts: list[AttemptOut]


def _run_out(run) -> dict:
    return {
        "id": run.pk,
        "plan": run.plan.key,
        "phase": run.phase.key,
        "component": run.component.name if run.component_id else None,
        "kind": run.kind,
        "state": run.state,
        "triggered_by": run.triggered_by_name,
        "reason": run.reason,
        "summary": run.summary,
    }


def _fresh(run):
    return services.get_run(run.pk)


@router.post("/plans/{plan_key}/phases/{phase_key}/start", response={202: RunOut})
def start_phase(request, plan_key: str, phase_key: str, payload: ReasonIn | None = None):
    phase = services.get_phase(services.get_plan(plan_key), phase_key)
    run = services.start_phase(phase, actor=request.auth, reason=(payload.reason if payload else ""))
    return Status(202, _run_out(_fresh(run)))


@router.post("/plans/{plan_key}/components/{component}/retry", response={202: RunOut})
def retry_component(request, plan_key: str, component: str, payload: ReasonIn | None = None):
    target = services.get_component(services.get_plan(plan_key), component)
    run = services.retry_component(target, actor=request.auth, reason=(payload.reason if payload else ""))
    return Status(202, _run_out(_fresh(run)))


@router.post("/plans/{plan_key}/components/{component}/rollback", response={202: RunOut})
def rollback_component(request, plan_key: str, component: str, payload: RollbackIn | None = None):
    payload = payload or RollbackIn()
    target = services.get_component(services.get_plan(plan_key), component)
    run = services.rollback_component(target, actor=request.auth, reason=payload.reason, override=payload.override)
    return Status(202, _run_out(_fresh(run)))


@router.post("/runs/{run_id}/cancel", response=RunOut)
def cancel_run(request, run_id: int, payload: ReasonIn | None = None):
    run = services.cancel_run(services.get_run(run_id), actor=request.auth, reason=(payload.reason if payload else ""))
    return _run_out(_fresh(run))


@router.get("/plans/{plan_key}/runs", response=list[RunOut])
def list_runs(request, plan_key: str, limit: int = 50):
    request.auth.require(Permission.VIEW, "read the migration log")
    runs = services.get_plan(plan_key).runs.select_related("plan", "phase", "component")
    return [_run_out(run) for run in runs[: max(1, min(limit, 500))]]


@router.get("/runs/{run_id}", response=RunLogOut)
def get_run(request, run_id: int):
    request.auth.require(Permission.VIEW, "read the migration log")
    return status.run_log(services.get_run(run_id))


@router.get("/plans/{plan_key}/migration-status", response=list[StatusRowOut])
def migration_status(request, plan_key: str):
    request.auth.require(Permission.VIEW, "read the migration status")
    return status.migration_status(services.get_plan(plan_key))
