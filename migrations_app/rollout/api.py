"""Rollout endpoints: the data plane's snapshot and decide, operator actions, approvals.

Each endpoint checks nothing itself beyond parsing: the services check the actor.
"""

from django.http import HttpResponse, JsonResponse
from ninja import Field, Router, Schema, Status

from migrations_app import approvals, promotion
from migrations_app.errors import NotFound
from migrations_app.models import Approval, Plan
from migrations_app.roles import Permission
from migrations_app.rollout import changes, emergency, services, snapshot
from migrations_app.rollout.auth import DATA_PLANE_AUTH

router = Router(tags=["rollout"])

R = "/plans/{plan_key}/components/{component}/rollout"


class ReasonIn(Schema):
    reason: str = ""


class RequiredReasonIn(Schema):
    reason: str = Field(..., min_length=1)


class PercentageIn(Schema):
    percentage: int = Field(..., ge=0, le=100)
    reason: str = Field(..., min_length=1)


class PlannedRollbackIn(Schema):
    reason: str = Field(..., min_length=1)
    override_reason: str = Field("", description="An admin's reason to roll back after the window closed.")


class CommentIn(Schema):
    comment: str = ""


class RolloutOut(Schema):
    component: str
    state: str
    percentage: int
    fallback: bool
    comparison: bool
    epoch: int
    last_reason: str
    steps: list[int]
    approval_at: list[int]
    interval_seconds: int


class ApprovalOut(Schema):
    id: int
    kind: str
    state: str
    summary: str
    required_approvals: int
    votes: list[str]
    requested_by: str
    expires_at: str


class GateOut(Schema):
    name: str
    passed: bool
    detail: str


class ComponentSnapshot(Schema):
    percentage: int
    fallback: bool
    comparison: bool
    state: str
    epoch: int


class SnapshotOut(Schema):
    plan: str
    epoch: int
    force_original: bool
    components: dict[str, ComponentSnapshot]
    hash: dict


class DecideOut(Schema):
    use_migrated: bool
    component: str
    key: str
    bucket: int
    percentage: int
    force_original: bool
    fallback: bool
    comparison: bool
    epoch: int


def _rollout_out(rollout) -> dict:
    return changes.describe(rollout) | {
        "steps": rollout.steps,
        "approval_at": rollout.approval_at,
        "interval_seconds": rollout.interval_seconds,
    }


def _plan(plan_key: str) -> Plan:
    plan = Plan.objects.filter(key=plan_key).first()
    if plan is None:
        raise NotFound(f"no plan {plan_key!r}")
    return plan


# --- The data plane ------------------------------------------------------------------------


@router.get("/plans/{plan_key}/rollout", response={200: SnapshotOut, 304: None}, auth=DATA_PLANE_AUTH)
def rollout_snapshot(request, plan_key: str):
    """The snapshot to evaluate locally; send the ETag back as If-None-Match to get 304."""
    request.auth.require(Permission.ROLLOUT_READ, "read rollouts")
    etag, content = snapshot.respond(plan_key, request.META.get("HTTP_IF_NONE_MATCH"), cached=request.rollout_cache)
    response = HttpResponse(content or b"", content_type="application/json", status=200 if content else 304)
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


@router.get("/plans/{plan_key}/decide", response=DecideOut, auth=DATA_PLANE_AUTH)
def decide(request, plan_key: str, component: str, key: str):
    """For a service that cannot evaluate the snapshot itself: does this key go to the new one?"""
    request.auth.require(Permission.ROLLOUT_READ, "read rollouts")
    response = JsonResponse(snapshot.decide_key(plan_key, component, key, cached=request.rollout_cache))
    response["Cache-Control"] = "no-cache"
    return response


# --- Operator actions ------------------------------------------------------------------------


@router.get(R, response=RolloutOut)
def rollout_detail(request, plan_key: str, component: str):
    request.auth.require(Permission.VIEW, "read rollouts")
    return _rollout_out(changes.find(plan_key, component))


@router.post(R + "/start", response=RolloutOut)
def start(request, plan_key: str, component: str, body: ReasonIn = None):
    reason = body.reason if body else ""
    return _rollout_out(services.start_rollout(changes.find(plan_key, component), actor=request.auth, reason=reason))


@router.post(R + "/pause", response=RolloutOut)
def pause(request, plan_key: str, component: str, body: ReasonIn = None):
    reason = body.reason if body else ""
    return _rollout_out(services.pause_rollout(changes.find(plan_key, component), actor=request.auth, reason=reason))


@router.post(R + "/resume", response=RolloutOut)
def resume(request, plan_key: str, component: str, body: ReasonIn = None):
    reason = body.reason if body else ""
    return _rollout_out(services.resume_rollout(changes.find(plan_key, component), actor=request.auth, reason=reason))


@router.post(R + "/percentage", response=RolloutOut)
def set_percentage(request, plan_key: str, component: str, body: PercentageIn):
    rollout = changes.find(plan_key, component)
    return _rollout_out(services.set_percentage(rollout, body.percentage, actor=request.auth, reason=body.reason))


@router.post(R + "/planned-rollback", response=RolloutOut)
def planned_rollback(request, plan_key: str, component: str, body: PlannedRollbackIn):
    rollout = changes.find(plan_key, component)
    rollout = services.planned_rollback(
        rollout, actor=request.auth, reason=body.reason, override_reason=body.override_reason
    )
    return _rollout_out(rollout)


@router.post("/plans/{plan_key}/emergency-rollback")
def emergency_rollback(request, plan_key: str, body: RequiredReasonIn):
    """Every component to 0%, force-original on, at once; then stability verification."""
    plan = emergency.emergency_rollback(_plan(plan_key), actor=request.auth, reason=body.reason)
    return emergency._plan_event(plan) | {"plan": plan.key}


@router.post("/plans/{plan_key}/clear-force-original", response={201: ApprovalOut})
def clear_force_original(request, plan_key: str, body: RequiredReasonIn):
    """Ask for approval to turn force-original off again."""
    approval = emergency.request_clear_force_original(_plan(plan_key), actor=request.auth, reason=body.reason)
    return Status(201, approvals.describe(approval))


# --- Promotion and approvals -------------------------------------------------------------------


@router.get("/plans/{plan_key}/phases/{phase_key}/gates", response=list[GateOut])
def gates(request, plan_key: str, phase_key: str):
    request.auth.require(Permission.VIEW, "read phases")
    return promotion.check_gates(promotion.find(plan_key, phase_key))


@router.post("/plans/{plan_key}/phases/{phase_key}/request-promotion", response={201: ApprovalOut})
def request_promotion(request, plan_key: str, phase_key: str, body: ReasonIn = None):
    """Open a promotion request; 409 naming each failing gate when the phase is not ready."""
    phase = promotion.find(plan_key, phase_key)
    try:
        approval = promotion.request_promotion(phase, actor=request.auth, reason=body.reason if body else "")
    except promotion.GatesFailed as failed:
        gates = [{"name": g.name, "passed": g.passed, "detail": g.detail} for g in failed.gates]
        return JsonResponse({"detail": failed.message, "gates": gates}, status=409)
    return Status(201, approvals.describe(approval))


@router.get("/approvals", response=list[ApprovalOut])
def list_approvals(request, plan: str | None = None, state: str = Approval.State.PENDING):
    request.auth.require(Permission.VIEW, "read approvals")
    approvals.expire_due()
    found = Approval.objects.filter(state=state).select_related("plan")
    if plan:
        found = found.filter(plan__key=plan)
    return [approvals.describe(approval) for approval in found]


@router.get("/approvals/{approval_id}", response=ApprovalOut)
def get_approval(request, approval_id: int):
    request.auth.require(Permission.VIEW, "read approvals")
    return approvals.describe(approvals.get(approval_id))


@router.post("/approvals/{approval_id}/approve", response=ApprovalOut)
def approve(request, approval_id: int, body: CommentIn = None):
    approval = approvals.get(approval_id)
    return approvals.describe(approvals.approve(approval, actor=request.auth, comment=body.comment if body else ""))


@router.post("/approvals/{approval_id}/reject", response=ApprovalOut)
def reject(request, approval_id: int, body: RequiredReasonIn):
    approval = approvals.get(approval_id)
    return approvals.describe(approvals.reject(approval, actor=request.auth, reason=body.reason))
