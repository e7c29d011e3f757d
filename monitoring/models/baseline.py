"""What the original system did before the migration (baseline), and what the target
database held (assessment): the yardsticks of the post-migration report."""

from django.db import models

from migrations_app.models import Component, Plan


class Assessment(models.Model):
    """The procedure's pre-migration data assessment of a plan's target database."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="assessments")
    database = models.CharField(max_length=100, help_text="Its name in TARGET_DATABASES.")
    vendor = models.CharField(max_length=20)
    ran_at = models.DateTimeField()
    ran_by_name = models.CharField(max_length=150)
    # {"tables": [{schema, table, total_bytes, size, row_estimate}], "complex_columns": [...]}
    result = models.JSONField()

    class Meta:
        ordering = ["-ran_at", "-id"]

    def __str__(self):
        return f"assessment of {self.database} for {self.plan.key}"


class Baseline(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="baselines")
    captured_at = models.DateTimeField()
    captured_by_name = models.CharField(max_length=150)
    window_seconds = models.PositiveIntegerField()
    reason = models.TextField(blank=True)
    assessments = models.ManyToManyField(Assessment, blank=True, related_name="baselines")

    class Meta:
        ordering = ["-captured_at", "-id"]

    def __str__(self):
        return f"baseline of {self.plan.key} at {self.captured_at:%Y-%m-%d %H:%M}"


class BaselineEntry(models.Model):
    """One operation of one component on the original provider, over the baseline's window."""

    baseline = models.ForeignKey(Baseline, on_delete=models.CASCADE, related_name="entries")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="+")
    operation = models.CharField(max_length=100)
    samples = models.PositiveIntegerField()
    errors = models.PositiveIntegerField()
    error_rate = models.FloatField()
    avg_latency_ms = models.FloatField(null=True)
    p95_latency_ms = models.FloatField(null=True)
    throughput_per_s = models.FloatField()
    # Summed latency bucket counts and the largest latency, so that several entries
    # combine into an overall p95 (monitoring.buckets.BUCKET_FIELDS order).
    latency_buckets = models.JSONField(default=list)
    latency_max_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["component__position", "operation"]
        constraints = [
            models.UniqueConstraint(fields=["baseline", "component", "operation"], name="baseline_entry_unique"),
        ]
