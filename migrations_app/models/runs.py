"""The migration log: runs of a phase (or of one component) and every step attempt."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .labels import ChoiceLabels
from .plan import Component, Phase, Plan, Step


class Run(ChoiceLabels):
    class Kind(models.TextChoices):
        PHASE = "phase", "Phase run"
        RETRY = "retry", "Component retry"
        ROLLBACK = "rollback", "Component rollback"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        ABORTED = "aborted", "Aborted"
        CANCELLED = "cancelled", "Cancelled"

    class Stop(models.TextChoices):
        NONE = "", "Not stopping"
        CANCEL = "cancel", "Cancelled by an operator"
        ABORT = "abort", "Aborted: a high-risk component failed"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING, State.CANCELLING)

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="runs")
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="runs")
    component = models.ForeignKey(
        Component,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="runs",
        help_text="Set for a run of one component (retry or rollback).",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PHASE)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    triggered_by_name = models.CharField(max_length=150, help_text="User name, token name or 'system'.")
    reason = models.TextField(blank=True)
    summary = models.TextField(blank=True, help_text="How it ended, in words.")
    # Set with state CANCELLING: whether the run ends cancelled or aborted once unwound.
    stop = models.CharField(max_length=10, choices=Stop.choices, default=Stop.NONE, blank=True)
    stop_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["phase", "-created_at"])]
        constraints = [
            # Two simultaneous "start" clicks make one run: the database refuses the second.
            models.UniqueConstraint(
                fields=["phase"],
                condition=Q(state__in=["queued", "running", "cancelling"]),
                name="one_active_run_per_phase",
            ),
        ]

    def __str__(self):
        return f"run {self.pk} of {self.phase}"


class ComponentRun(ChoiceLabels):
    """One component within a run: what the run did with it, and the key its tasks claim.

    A task acts on a ComponentRun only after moving it from QUEUED (or UNDO_QUEUED) with a
    conditional update, so a redelivered or duplicated task finds nothing to do.
    """

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting for dependencies"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        UNDO_QUEUED = "undo_queued", "Rollback queued"
        UNDOING = "undoing", "Rolling back"
        FAILED = "failed", "Failed, rolled back"
        ROLLED_BACK = "rolled_back", "Rolled back"
        ROLLBACK_FAILED = "rollback_failed", "Rollback failed"
        SKIPPED = "skipped", "Skipped"

    IN_FLIGHT = (State.QUEUED, State.RUNNING, State.UNDO_QUEUED, State.UNDOING)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="component_runs")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="component_runs")
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    # Its forward steps failed in this run (it then took its failure path).
    failed = models.BooleanField(default=False)
    reason = models.TextField(blank=True, help_text="Why it failed, was skipped or rolled back.")
    dispatches = models.PositiveSmallIntegerField(default=0, help_text="How many times its task was sent.")
    deliveries = models.PositiveSmallIntegerField(default=0, help_text="How many times a worker received it.")
    worker = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "component__position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "component"], name="component_once_per_run"),
        ]
        indexes = [models.Index(fields=["state", "lease_expires_at"])]

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)

    def __str__(self):
        return f"{self.component.name} in run {self.run_id}"


class StepAttempt(ChoiceLabels):
    """One execution of one step, forward or reverse: a row of the migration log."""

    class Direction(models.TextChoices):
        FORWARD = "forward", "Forward"
        REVERSE = "reverse", "Reverse"

    class Status(models.TextChoices):
        STARTED = "started", "Started"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"
        INTERRUPTED = "interrupted", "Interrupted"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="attempts")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="attempts")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="attempts")
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.FORWARD)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.STARTED)
    delivery = models.PositiveSmallIntegerField(default=1, help_text="How many times a worker picked this up.")
    triggered_by_name = models.CharField(max_length=150)
    worker = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    output_tail = models.TextField(blank=True)
    error_message = models.TextField(blank=True)
    error_trace = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [
            models.Index(fields=["component", "-started_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
        ]

    def __str__(self):
        return f"{self.step} {self.direction} {self.status}"
