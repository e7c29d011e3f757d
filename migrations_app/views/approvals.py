"""The approval page and its "Approve" and "Reject" buttons."""

from django.shortcuts import get_object_or_404

from migrations_app.access import actor_for, requires
from migrations_app.errors import InvalidInput
from migrations_app.fragments import ApprovalPage
from migrations_app.models import Approval
from migrations_app.roles import Permission

from .plans import plan_for
from .responses import button, call, done, page_response


def _approval(plan_key, approval_id) -> Approval:
    return get_object_or_404(Approval, plan__key=plan_key, pk=approval_id)


@requires(Permission.VIEW)
def detail(request, plan_key, approval_id):
    approval = _approval(plan_key, approval_id)
    return page_response(request, ApprovalPage(plan_for(plan_key), actor_for(request), approval_id=approval.pk))


@button(Permission.APPROVE, "approve")
def approve(request, plan_key, approval_id):
    approval = _approval(plan_key, approval_id)
    call("approve", approval, actor=actor_for(request), comment=request.POST.get("reason", "").strip())
    return done(request, "Approved.", f"/plans/{plan_key}/approvals/{approval.pk}/")


@button(Permission.APPROVE, "reject")
def reject(request, plan_key, approval_id):
    approval = _approval(plan_key, approval_id)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        raise InvalidInput("reason: say why you reject it, so the requester knows what to change")
    call("reject", approval, actor=actor_for(request), reason=reason)
    return done(request, "Rejected.", f"/plans/{plan_key}/approvals/{approval.pk}/")
