"""Request metrics as the migrated system reports them: raw samples, kept for a while,
and the 10-second rollups that health, alerts, charts and reports read."""

from django.db import models

from migrations_app.models import Component
from monitoring import verdict
from monitoring.buckets import BUCKET_FIELDS


class Provider(models.TextChoices):
    ORIGINAL = verdict.ORIGINAL, "Original"
    MIGRATED = verdict.MIGRATED, "Migrated"


class MetricSample(models.Model):
    """One request, as reported. Written with COPY, pruned after METRICS_RETENTION_HOURS.

    No database foreign key to the component: a constraint check per row would cost the
    COPY more than everything else, the ingest validates the component in the same
    transaction, and rows of a component removed later simply age out.
    """

    id = models.BigAutoField(primary_key=True)
    component = models.ForeignKey(
        Component, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    operation = models.CharField(max_length=100)
    provider = models.CharField(max_length=10, choices=Provider.choices)
    duration_ms = models.FloatField()
    success = models.BooleanField()
    error_message = models.TextField(blank=True)
    recorded_at = models.DateTimeField()

    # The index on recorded_at that pruning uses is made by the migration: BRIN on
    # PostgreSQL (samples arrive in time order; it costs the COPY next to nothing), B-tree
    # on SQLite.

    def __str__(self):
        return f"{self.component_id}/{self.operation}/{self.provider} {self.duration_ms} ms"


class MetricRollup(models.Model):
    """Samples of one 10-second bucket for one (component, operation, provider)."""

    # Indexed by the unique constraint below, which starts with the component: an index of
    # its own would be a second copy, paid in space and on every new bucket's row.
    component = models.ForeignKey(Component, on_delete=models.CASCADE, db_index=False, related_name="metric_rollups")
    operation = models.CharField(max_length=100)
    provider = models.CharField(max_length=10, choices=Provider.choices)
    bucket_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0)
    latency_max_ms = models.FloatField(default=0)
    # Samples per latency bucket (monitoring.buckets.BUCKET_FIELDS): not cumulative.
    le_5 = models.PositiveIntegerField(default=0)
    le_10 = models.PositiveIntegerField(default=0)
    le_25 = models.PositiveIntegerField(default=0)
    le_50 = models.PositiveIntegerField(default=0)
    le_100 = models.PositiveIntegerField(default=0)
    le_250 = models.PositiveIntegerField(default=0)
    le_500 = models.PositiveIntegerField(default=0)
    le_1000 = models.PositiveIntegerField(default=0)
    le_2000 = models.PositiveIntegerField(default=0)
    le_3000 = models.PositiveIntegerField(default=0)
    le_5000 = models.PositiveIntegerField(default=0)
    le_10000 = models.PositiveIntegerField(default=0)
    le_inf = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # Also the index every window read uses: component, then a range of buckets.
            models.UniqueConstraint(
                fields=["component", "bucket_start", "provider", "operation"], name="metric_rollup_unique_bucket"
            ),
        ]

    def bucket_counts(self) -> list[int]:
        return [getattr(self, name) for name in BUCKET_FIELDS]

    def __str__(self):
        return f"{self.component_id}/{self.operation}/{self.provider} @ {self.bucket_start:%H:%M:%S}: {self.count}"


class ComparisonRollup(models.Model):
    """Shadow comparisons of one 10-second bucket for one component."""

    # Indexed by the unique constraint below, which starts with the component.
    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, db_index=False, related_name="comparison_rollups"
    )
    bucket_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    mismatches = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["component", "bucket_start"], name="comparison_rollup_unique_bucket"),
        ]


class ComparisonMismatch(models.Model):
    """A comparison that differed, kept for inspection; only the latest few per component."""

    KEEP_PER_COMPONENT = 50

    # Indexed by the (component, -id) index below.
    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, db_index=False, related_name="comparison_mismatches"
    )
    request_id = models.CharField(max_length=200)
    diff = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["component", "-id"])]


class IngestCounter(models.Model):
    """What the ingestion endpoints took and refused, for /metrics."""

    class Kind(models.TextChoices):
        METRICS = "metrics", "Metrics"
        COMPARISONS = "comparisons", "Comparisons"

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    batches = models.BigIntegerField(default=0)
    items = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "outcome"], name="ingest_counter_unique")]
