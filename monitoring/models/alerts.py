"""Alerts (one open per rule and scope) and the webhook deliveries that announce them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from migrations_app.models import Component, Plan


class Alert(models.Model):
    class Severity(models.TextChoices):
        CRITICAL = "critical", "Critical"
        WARNING = "warning", "Warning"
        INFO = "info", "Info"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="alerts")
    component = models.ForeignKey(Component, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    # The component's name, or "" for a plan-wide alert: what "one open alert per rule
    # and component" is keyed on (a NULL component would never clash in a constraint).
    scope = models.CharField(max_length=100, blank=True)
    rule = models.CharField(max_length=60)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_by_name = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "scope", "rule"], condition=Q(resolved_at__isnull=True), name="one_open_alert_per_rule"
            ),
        ]
        indexes = [models.Index(fields=["plan", "resolved_at"])]

    @property
    def state(self) -> str:
        if self.resolved_at:
            return "resolved"
        return "acknowledged" if self.acknowledged_at else "open"

    def __str__(self):
        where = f"{self.plan.key}/{self.scope}" if self.scope else self.plan.key
        return f"{self.severity} {self.rule} on {where}"


class WebhookDelivery(models.Model):
    """One notification to ALERT_WEBHOOK_URL and how its delivery went (the delivery log)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent: no webhook configured"

    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_deliveries")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    kind = models.CharField(max_length=40, help_text="alert, rollback, promotion, ...")
    text = models.TextField()
    payload = models.JSONField()
    # Only the host: a Slack webhook URL is itself a secret.
    target_host = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self):
        return f"{self.kind} webhook {self.state}"
