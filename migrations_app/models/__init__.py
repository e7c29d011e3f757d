"""The migration domain: what a plan says, what has run, who approved, what happened."""

from .access import ApiToken
from .approvals import Approval, ApprovalVote
from .audit import AuditEvent
from .plan import ChecklistItem, Component, Phase, Plan, Rollout, Step
from .runs import Run, StepAttempt

__all__ = [
    "ApiToken",
    "Approval",
    "ApprovalVote",
    "AuditEvent",
    "ChecklistItem",
    "Component",
    "Phase",
    "Plan",
    "Rollout",
    "Run",
    "Step",
    "StepAttempt",
]
