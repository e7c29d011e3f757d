"""What a plan file describes: the plan, its phases, checklist, components, steps, rollouts.

Rows here are written by the plan loader; states are written only by `transitions.apply`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from migrations_app.states import ComponentState, PhaseState, Risk, RollbackComplexity, RolloutState, StepKind

from .labels import ChoiceLabels


class Stability(models.TextChoices):
    NONE = "", "Not verifying"
    VERIFYING = "verifying", "Verifying"
    VERIFIED = "verified", "Stable"
    UNSTABLE = "unstable", "Not verified"


class Plan(ChoiceLabels):
    class AutoRollback(models.TextChoices):
        COMPONENT = "component", "The failing component"
        PLAN = "plan", "The whole plan"

    key = models.CharField(max_length=100, unique=True, help_text="The `plan:` key of the plan file.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    auto_rollback = models.CharField(max_length=20, choices=AutoRollback.choices, default=AutoRollback.COMPONENT)
    approval_expiry_hours = models.PositiveIntegerField(default=72)
    rollout_defaults = models.JSONField(default=dict, blank=True)
    # Plan-wide kill switch of the data plane: when on, every key goes to the original.
    force_original = models.BooleanField(default=False)
    # Bumped by every change to what the rollout snapshot shows (with the plan file's digest,
    # it is the snapshot's ETag), and by every emergency rollback: scheduled work carries it.
    epoch = models.BigIntegerField(default=0)
    # Stability verification after an emergency rollback (3 consecutive healthy checks).
    stability = models.CharField(max_length=12, choices=Stability.choices, blank=True, default="")
    stability_attempts = models.PositiveSmallIntegerField(default=0)
    stability_passes = models.PositiveSmallIntegerField(default=0, help_text="Consecutive healthy checks.")
    stability_checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When verification started or last checked: a stall shows here."
    )
    source = models.TextField(blank=True, help_text="The plan file as last loaded.")
    source_sha256 = models.CharField(max_length=64, blank=True)
    loaded_at = models.DateTimeField(auto_now_add=True)
    reloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return self.key


class Phase(ChoiceLabels):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="phases")
    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField()
    risk = models.CharField(max_length=10, choices=Risk.choices)
    days_min = models.PositiveSmallIntegerField()
    days_max = models.PositiveSmallIntegerField()
    rollback_window_hours = models.PositiveIntegerField()
    approvals_required = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=20, choices=PhaseState.choices, default=PhaseState.PENDING)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="phase_key_unique_per_plan"),
            models.UniqueConstraint(fields=["plan", "position"], name="phase_position_unique_per_plan"),
            models.CheckConstraint(condition=Q(days_min__lte=models.F("days_max")), name="phase_days_ordered"),
        ]

    def __str__(self):
        return f"{self.plan.key}/{self.key}"


class ChecklistItem(models.Model):
    """A readiness item: phase 1 starts only when every item is ticked."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="checklist")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=300)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="checklist_position_unique_per_plan"),
            models.CheckConstraint(
                condition=Q(checked_by__isnull=True, checked_at__isnull=True)
                | Q(checked_by__isnull=False, checked_at__isnull=False),
                name="checklist_checked_by_and_at_together",
            ),
        ]

    @property
    def is_checked(self) -> bool:
        return self.checked_at is not None

    def __str__(self):
        return self.text


class Component(ChoiceLabels):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="components")
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="components")
    name = models.SlugField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(help_text="Order in the plan file.")
    depends_on = models.ManyToManyField("self", symmetrical=False, related_name="dependents", blank=True)
    estimated_minutes = models.PositiveIntegerField(default=0)
    risk = models.CharField(max_length=10, choices=Risk.choices)
    rollback_complexity = models.CharField(max_length=10, choices=RollbackComplexity.choices)
    traffic = models.BooleanField(default=False, help_text="Serves traffic, so it has a rollout.")
    health_url = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=20, choices=ComponentState.choices, default=ComponentState.PENDING)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="component_name_unique_per_plan"),
        ]

    def __str__(self):
        return self.name


class Step(ChoiceLabels):
    """One action of a component's migration, with the action that undoes it.

    `forward` and `reverse` hold the action's spec as the plan file wrote it (for example
    `{"sql": "CREATE TABLE ..."}` or `{"http": {"url": ..., "expect_status": 200}}`).
    """

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=StepKind.choices)
    forward = models.JSONField()
    reverse = models.JSONField(null=True, blank=True)
    database = models.CharField(max_length=100, blank=True, help_text="Target database of an sql step.")
    timeout_seconds = models.PositiveIntegerField(default=60)

    class Meta:
        ordering = ["component", "position"]
        constraints = [
            models.UniqueConstraint(fields=["component", "position"], name="step_position_unique_per_component"),
            models.CheckConstraint(condition=Q(timeout_seconds__gt=0), name="step_timeout_positive"),
        ]

    @property
    def has_reverse(self) -> bool:
        return self.reverse is not None

    def __str__(self):
        return f"{self.component.name}#{self.position} {self.name}"


class Rollout(ChoiceLabels):
    """How much of a traffic component's requests go to the new implementation."""

    component = models.OneToOneField(Component, on_delete=models.CASCADE, related_name="rollout")
    percentage = models.PositiveSmallIntegerField(default=0)
    steps = models.JSONField(help_text="Percentages to move through, strictly increasing.")
    approval_at = models.JSONField(default=list, blank=True, help_text="Steps that need an approval first.")
    interval_seconds = models.PositiveIntegerField(default=300)
    fallback = models.BooleanField(default=True)
    comparison = models.BooleanField(default=False)
    health = models.JSONField(default=dict, help_text="Health thresholds over the window.")
    state = models.CharField(max_length=20, choices=RolloutState.choices, default=RolloutState.IDLE)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    percentage_changed_at = models.DateTimeField(null=True, blank=True)
    # Anything computed for an older epoch does nothing: every decision re-checks it.
    epoch = models.BigIntegerField(default=0)
    last_reason = models.TextField(blank=True, help_text="Why it last paused or rolled back.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(percentage__gte=0) & Q(percentage__lte=100), name="rollout_percentage_0_100"
            ),
        ]

    def __str__(self):
        return f"{self.component.name} at {self.percentage}%"
