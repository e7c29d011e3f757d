"""The approval page: what would change, its gates, who approved so far, and the approve
and reject buttons (disabled, with the reason, for the requester: four eyes)."""

from functools import cached_property

from migrations_app import access, promotion
from migrations_app.broadcast import Event
from migrations_app.models import Approval

from .base import PlanPage, merged


class ApprovalPage(PlanPage):
    view = "approval"
    template = "migrations_app/approval.html"
    regions = {
        **PlanPage.regions,
        "approval": "migrations_app/regions/approval.html",
    }
    refresh = merged(
        PlanPage.refresh,
        {
            Event.APPROVAL_CHANGED: ("approval",),
            Event.PHASE_CHANGED: ("approval",),
            Event.COMPONENT_CHANGED: ("approval",),
            Event.ROLLOUT_CHANGED: ("approval",),
        },
    )
    # The buttons differ for the requester: pushed fragments are rendered per user here.
    per_user = True

    def __init__(self, plan, actor, *, approval_id: int, seq=None):
        super().__init__(plan, actor, seq=seq)
        self.approval = Approval.objects.select_related("phase", "rollout__component", "requested_by").get(
            plan=self.plan, pk=approval_id
        )

    @property
    def socket_query(self) -> str:
        return f"view=approval&approval={self.approval.pk}"

    @cached_property
    def votes(self):
        return list(self.approval.votes.select_related("approver").order_by("at"))

    @cached_property
    def checks(self) -> list[promotion.Gate]:
        """A promotion's gates as they stand now (approving re-checks them)."""
        if self.approval.phase_id is None:
            return []
        phase = self.approval.phase
        phase.plan = self.plan
        return promotion.check_gates(phase)

    @cached_property
    def gates(self):
        voters = {vote.approver_id for vote in self.votes}
        return access.approval_gates(self.actor, self.approval, voters, now=self.now)

    @property
    def is_requester(self) -> bool:
        return self.actor.is_person and self.approval.requested_by_id == self.actor.user.pk

    @property
    def approvals_missing(self) -> int:
        return max(0, self.approval.required_approvals - len(self.votes))
