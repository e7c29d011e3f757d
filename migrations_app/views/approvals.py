"""The approval page and its "Approve" and "Reject" buttons."""

from django.shortcuts import get_object_or_404

from migrations_app import approvals
from migrations_app.access import actor_for, requires
from migrations_app.fragments import ApprovalPage
from migrations_app.models import Approval
from migrations_app.roles import Permission

from .plans import plan_for
from .responses import button, done, page_response, reason_of


def _approval(plan_key, approval_id) -> Approval:
    return get_object_or_404(Approval, plan__key=plan_key, pk=approval_id)


@requires(Permission.VIEW)
def detail(request, plan_key, approval_id):
    approval = _approval(plan_key, approval_id)
    return page_response(request, ApprovalPage(plan_for(plan_key), actor_for(request), approval_id=approval.pk))


@button(Permission.APPROVE, "approve")
def approve(request, plan_key, approval_id):
    approval = approvals.approve(_approval(plan_key, approval_id), actor=actor_for(request), comment=reason_of(request))
    said = (
        "Approved: the change is applied."
        if approval.state == Approval.State.APPROVED
        else "Your approval is recorded."
    )
    return done(request, said, f"/plans/{plan_key}/approvals/{approval.pk}/")


@button(Permission.APPROVE, "reject")
def reject(request, plan_key, approval_id):
    approval = approvals.reject(_approval(plan_key, approval_id), actor=actor_for(request), reason=reason_of(request))
    return done(request, "Rejected.", f"/plans/{plan_key}/approvals/{approval.pk}/")
