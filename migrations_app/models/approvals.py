"""Requests for a change that needs other people's approval (four eyes)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .labels import ChoiceLabels
from .plan import Phase, Plan, Rollout


class Approval(ChoiceLabels):
    class Kind(models.TextChoices):
        PHASE_PROMOTION = "phase_promotion", "Phase promotion"
        ROLLOUT_STEP = "rollout_step", "Rollout step"
        CLEAR_FORCE_ORIGINAL = "clear_force_original", "Clear force-original"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        INVALIDATED = "invalidated", "Invalidated"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="approvals")
    kind = models.CharField(max_length=25, choices=Kind.choices)
    phase = models.ForeignKey(Phase, null=True, blank=True, on_delete=models.CASCADE, related_name="approvals")
    rollout = models.ForeignKey(Rollout, null=True, blank=True, on_delete=models.CASCADE, related_name="approvals")
    target_percentage = models.PositiveSmallIntegerField(null=True, blank=True)
    summary = models.TextField(help_text="What would change, in words.")
    # A digest of what is being approved; a change to it invalidates the request.
    fingerprint = models.CharField(max_length=64)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150)
    requested_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["phase"],
                condition=Q(state="pending", kind="phase_promotion"),
                name="one_pending_promotion_per_phase",
            ),
            models.UniqueConstraint(
                fields=["rollout"],
                condition=Q(state="pending", kind="rollout_step"),
                name="one_pending_step_approval_per_rollout",
            ),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(state="pending", kind="clear_force_original"),
                name="one_pending_clear_force_original_per_plan",
            ),
        ]
        # The expiry task looks for pending requests past their time.
        indexes = [models.Index(fields=["state", "expires_at"], name="approval_state_expiry_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.summary}"


class ApprovalVote(models.Model):
    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="votes")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["at"]
        constraints = [
            models.UniqueConstraint(fields=["approval", "approver"], name="one_vote_per_approver"),
        ]
