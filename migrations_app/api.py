"""Plan endpoints of the API (read side; the operator actions join them as they land)."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from migrations_app.models import Plan
from migrations_app.roles import Permission

router = Router(tags=["plans"])


class PlanSummary(Schema):
    key: str
    name: str
    force_original: bool
    epoch: int


class ComponentOut(Schema):
    name: str
    phase: str
    state: str
    risk: str
    traffic: bool
    depends_on: list[str]
    percentage: int | None


class PhaseOut(Schema):
    key: str
    name: str
    position: int
    risk: str
    state: str
    rollback_window_hours: int
    approvals_required: int
    promoted_at: datetime | None


class ChecklistItemOut(Schema):
    text: str
    checked_by: str | None
    checked_at: datetime | None


class PlanOut(PlanSummary):
    phases: list[PhaseOut]
    checklist: list[ChecklistItemOut]
    components: list[ComponentOut]


@router.get("/plans", response=list[PlanSummary])
def list_plans(request):
    request.auth.require(Permission.VIEW, "read plans")
    return list(Plan.objects.all())


@router.get("/plans/{plan_key}", response=PlanOut)
def get_plan(request, plan_key: str):
    request.auth.require(Permission.VIEW, "read plans")
    plan = get_object_or_404(Plan, key=plan_key)
    components = plan.components.select_related("phase", "rollout").prefetch_related("depends_on")
    return {
        "key": plan.key,
        "name": plan.name,
        "force_original": plan.force_original,
        "epoch": plan.epoch,
        "phases": list(plan.phases.all()),
        "checklist": [
            {"text": i.text, "checked_by": i.checked_by.username if i.checked_by else None, "checked_at": i.checked_at}
            for i in plan.checklist.select_related("checked_by")
        ],
        "components": [
            {
                "name": c.name,
                "phase": c.phase.key,
                "state": c.state,
                "risk": c.risk,
                "traffic": c.traffic,
                "depends_on": [d.name for d in c.depends_on.all()],
                "percentage": c.rollout.percentage if c.traffic and hasattr(c, "rollout") else None,
            }
            for c in components
        ],
    }
