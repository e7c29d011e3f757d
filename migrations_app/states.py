"""The state machines of phases, components and rollouts, as data.

Each table maps an allowed (from, to) pair to the audit action it records. Nothing else
decides whether a state may change: `transitions.apply` reads these tables, and the tests
enumerate every pair, allowed and forbidden. No ORM here.
"""

from django.db import models


class Risk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class RollbackComplexity(models.TextChoices):
    SIMPLE = "simple", "Simple"
    MODERATE = "moderate", "Moderate"
    COMPLEX = "complex", "Complex"


class StepKind(models.TextChoices):
    SQL = "sql", "SQL"
    HTTP = "http", "HTTP"
    COMMAND = "command", "Command"
    CHECK = "check", "Check"


class PhaseState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    PROMOTED = "promoted", "Promoted"
    ROLLED_BACK = "rolled_back", "Rolled back"


class ComponentState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Migrated"
    FAILED = "failed", "Failed"
    ROLLING_BACK = "rolling_back", "Rolling back"
    ROLLED_BACK = "rolled_back", "Rolled back"
    ROLLBACK_FAILED = "rollback_failed", "Rollback failed"
    SKIPPED = "skipped", "Skipped"


class RolloutState(models.TextChoices):
    IDLE = "idle", "Not started"
    PROGRESSING = "progressing", "Progressing"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "At 100%"
    ROLLING_BACK = "rolling_back", "Rolling back"
    ROLLED_BACK = "rolled_back", "Rolled back"


P, C, R = PhaseState, ComponentState, RolloutState

PHASE_TRANSITIONS: dict[tuple[str, str], str] = {
    (P.PENDING, P.IN_PROGRESS): "phase.started",
    (P.IN_PROGRESS, P.AWAITING_APPROVAL): "phase.promotion_requested",
    # The request was rejected, expired or invalidated: back to work.
    (P.AWAITING_APPROVAL, P.IN_PROGRESS): "phase.promotion_withdrawn",
    (P.AWAITING_APPROVAL, P.PROMOTED): "phase.promoted",
    (P.IN_PROGRESS, P.ROLLED_BACK): "phase.rolled_back",
    (P.PROMOTED, P.ROLLED_BACK): "phase.rolled_back",
    (P.ROLLED_BACK, P.IN_PROGRESS): "phase.restarted",
}

COMPONENT_TRANSITIONS: dict[tuple[str, str], str] = {
    (C.PENDING, C.RUNNING): "component.started",
    (C.PENDING, C.SKIPPED): "component.skipped",
    (C.RUNNING, C.COMPLETED): "component.completed",
    (C.RUNNING, C.FAILED): "component.failed",
    # Cancelled while running: undo what was done.
    (C.RUNNING, C.ROLLING_BACK): "component.rolling_back",
    (C.FAILED, C.ROLLING_BACK): "component.rolling_back",
    # Failed at its first step: nothing to reverse.
    (C.FAILED, C.ROLLED_BACK): "component.rolled_back",
    (C.COMPLETED, C.ROLLING_BACK): "component.rolling_back",
    (C.ROLLING_BACK, C.ROLLED_BACK): "component.rolled_back",
    (C.ROLLING_BACK, C.ROLLBACK_FAILED): "component.rollback_failed",
    (C.ROLLBACK_FAILED, C.ROLLING_BACK): "component.rolling_back",
    (C.FAILED, C.RUNNING): "component.retried",
    (C.ROLLED_BACK, C.RUNNING): "component.retried",
    (C.SKIPPED, C.RUNNING): "component.started",
}

ROLLOUT_TRANSITIONS: dict[tuple[str, str], str] = {
    (R.IDLE, R.PROGRESSING): "rollout.started",
    (R.IDLE, R.PAUSED): "rollout.paused",
    (R.PROGRESSING, R.AWAITING_APPROVAL): "rollout.awaiting_approval",
    (R.AWAITING_APPROVAL, R.PROGRESSING): "rollout.approved",
    (R.PROGRESSING, R.PAUSED): "rollout.paused",
    (R.AWAITING_APPROVAL, R.PAUSED): "rollout.paused",
    (R.COMPLETED, R.PAUSED): "rollout.paused",
    (R.PAUSED, R.PROGRESSING): "rollout.resumed",
    (R.PROGRESSING, R.COMPLETED): "rollout.completed",
    (R.PROGRESSING, R.ROLLING_BACK): "rollout.rolling_back",
    (R.AWAITING_APPROVAL, R.ROLLING_BACK): "rollout.rolling_back",
    (R.PAUSED, R.ROLLING_BACK): "rollout.rolling_back",
    (R.COMPLETED, R.ROLLING_BACK): "rollout.rolling_back",
    (R.PROGRESSING, R.ROLLED_BACK): "rollout.rolled_back",
    (R.AWAITING_APPROVAL, R.ROLLED_BACK): "rollout.rolled_back",
    (R.PAUSED, R.ROLLED_BACK): "rollout.rolled_back",
    (R.COMPLETED, R.ROLLED_BACK): "rollout.rolled_back",
    (R.ROLLING_BACK, R.ROLLED_BACK): "rollout.rolled_back",
    (R.ROLLED_BACK, R.PROGRESSING): "rollout.restarted",
}

MACHINES: dict[str, tuple[type[models.TextChoices], dict[tuple[str, str], str]]] = {
    "phase": (PhaseState, PHASE_TRANSITIONS),
    "component": (ComponentState, COMPONENT_TRANSITIONS),
    "rollout": (RolloutState, ROLLOUT_TRANSITIONS),
}


def allowed_targets(machine: str, current: str) -> list[str]:
    """The states `current` may move to, for messages that say what would be allowed."""
    _, table = MACHINES[machine]
    return [new for (old, new) in table if old == current]
