"""Results of the periodic probes: each component's health URL and each target database."""

from django.db import models

from migrations_app.models import Component


class ProbeResult(models.Model):
    class Kind(models.TextChoices):
        HTTP = "http", "Health URL"
        DATABASE = "database", "Database"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    component = models.ForeignKey(
        Component, null=True, blank=True, on_delete=models.CASCADE, related_name="probe_results"
    )
    # The health URL as the plan writes it (`${NAME}` unresolved, so no secret is
    # stored), or the database's name in TARGET_DATABASES.
    target = models.CharField(max_length=500)
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["component", "-at"]),
            models.Index(fields=["kind", "target", "-at"]),
        ]

    def __str__(self):
        return f"{self.target}: {'ok' if self.ok else 'failing'}"
