"""Rollups: folded at ingest time, read by health, alerts, charts and reports.

Rollups are maintained in the ingest's own transaction: the batch is folded into one
delta per (component, operation, provider, 10-second bucket) in Python, and the deltas
are added to the rollup rows with one `INSERT ... ON CONFLICT DO UPDATE` after the raw
COPY. So a rollup is never behind the raw rows (no lag, no job to fall behind), a failed
batch leaves neither, and every read costs the number of buckets in its window whatever
the number of raw rows: health with 10 or 10 million raw samples reads the same ~60 rows.
Deltas are applied in key order, so two concurrent batches lock rows in the same order
and cannot deadlock.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Max, Sum

from monitoring.buckets import BUCKET_FIELDS, latency_bucket, quantile
from monitoring.models import ComparisonRollup, MetricRollup

# Rows per INSERT statement: SQLite allows 999 parameters on older builds.
UPSERT_CHUNK = 40

METRIC_COLUMNS = (
    "component_id",
    "operation",
    "provider",
    "bucket_start",
    "count",
    "errors",
    "latency_sum_ms",
    "latency_max_ms",
    *BUCKET_FIELDS,
)
METRIC_KEY = ("component_id", "bucket_start", "provider", "operation")


def fold_metrics(rows: Iterable[tuple]) -> dict[tuple, list]:
    """Deltas per (component_id, operation, provider, bucket_start) from rows of
    (component_id, operation, provider, duration_ms, success, bucket_start).

    Each delta is [count, errors, latency_sum, latency_max, *bucket_counts].
    """
    width = len(BUCKET_FIELDS)
    deltas: dict[tuple, list] = defaultdict(lambda: [0, 0, 0.0, 0.0] + [0] * width)
    for component_id, operation, provider, duration, success, start in rows:
        delta = deltas[(component_id, operation, provider, start)]
        delta[0] += 1
        if not success:
            delta[1] += 1
        delta[2] += duration
        if duration > delta[3]:
            delta[3] = duration
        delta[4 + latency_bucket(duration)] += 1
    return deltas


def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...], rows: list[tuple], updates: list[str]):
    adapt = connection.ops.adapt_datetimefield_value
    start_index = columns.index("bucket_start")
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), UPSERT_CHUNK):
            chunk = rows[offset : offset + UPSERT_CHUNK]
            params = []
            for row in chunk:
                row = list(row)
                row[start_index] = adapt(row[start_index])
                params.extend(row)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([placeholders] * len(chunk))} "
                f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(updates)}",
                params,
            )


def apply_metric_deltas(deltas: dict[tuple, list]) -> None:
    table = MetricRollup._meta.db_table
    rows = sorted((*key, *delta) for key, delta in deltas.items())
    added = ["count", "errors", "latency_sum_ms", *BUCKET_FIELDS]
    updates = [f"{name} = {table}.{name} + EXCLUDED.{name}" for name in added]
    # Portable GREATEST: SQLite has no such function.
    updates.append(
        f"latency_max_ms = CASE WHEN EXCLUDED.latency_max_ms > {table}.latency_max_ms "
        f"THEN EXCLUDED.latency_max_ms ELSE {table}.latency_max_ms END"
    )
    _upsert(table, METRIC_COLUMNS, METRIC_KEY, rows, updates)


def apply_comparison_deltas(deltas: dict[tuple, list]) -> None:
    """`deltas`: (component_id, bucket_start) -> [count, mismatches]."""
    table = ComparisonRollup._meta.db_table
    rows = sorted((*key, *delta) for key, delta in deltas.items())
    updates = [f"{name} = {table}.{name} + EXCLUDED.{name}" for name in ("count", "mismatches")]
    columns = ("component_id", "bucket_start", "count", "mismatches")
    _upsert(table, columns, ("component_id", "bucket_start"), rows, updates)


@dataclass(frozen=True)
class Figures:
    """Summed rollups: what one provider (or one operation) did over a span of buckets."""

    samples: int
    errors: int
    latency_sum_ms: float
    latency_max_ms: float
    bucket_counts: tuple[int, ...]

    @property
    def error_rate(self) -> float:
        return self.errors / self.samples if self.samples else 0.0

    @property
    def avg_latency_ms(self) -> float | None:
        return self.latency_sum_ms / self.samples if self.samples else None

    def quantile_ms(self, q: float) -> float | None:
        return quantile(q, self.bucket_counts, self.latency_max_ms)

    @property
    def p95_latency_ms(self) -> float | None:
        return self.quantile_ms(0.95)


EMPTY = Figures(0, 0, 0.0, 0.0, (0,) * len(BUCKET_FIELDS))

_SUMS = {
    "samples": Sum("count"),
    "errors_sum": Sum("errors"),
    "latency_sum": Sum("latency_sum_ms"),
    "latency_max": Max("latency_max_ms"),
    **{f"sum_{name}": Sum(name) for name in BUCKET_FIELDS},
}


def _figures(row: dict) -> Figures:
    return Figures(
        samples=row["samples"] or 0,
        errors=row["errors_sum"] or 0,
        latency_sum_ms=row["latency_sum"] or 0.0,
        latency_max_ms=row["latency_max"] or 0.0,
        bucket_counts=tuple(row[f"sum_{name}"] or 0 for name in BUCKET_FIELDS),
    )


def metric_figures(
    component_ids, since: datetime, until: datetime | None = None, *, by: tuple[str, ...] = ("provider",)
) -> dict[tuple, Figures]:
    """Summed rollups of buckets starting at or after `since` (and before `until`),
    grouped by `by` (fields of MetricRollup, e.g. ("provider",) or ("component", "operation", "provider"))."""
    rollups = MetricRollup.objects.filter(component_id__in=list(component_ids), bucket_start__gte=since)
    if until is not None:
        rollups = rollups.filter(bucket_start__lt=until)
    grouped = rollups.values(*by).annotate(**_SUMS).order_by()
    return {tuple(row[name] for name in by): _figures(row) for row in grouped}


def comparison_counts(component_id: int, since: datetime, until: datetime | None = None) -> tuple[int, int]:
    """(comparisons, mismatches) of the component in buckets from `since`."""
    rollups = ComparisonRollup.objects.filter(component_id=component_id, bucket_start__gte=since)
    if until is not None:
        rollups = rollups.filter(bucket_start__lt=until)
    totals = rollups.aggregate(count=Sum("count"), mismatches=Sum("mismatches"))
    return totals["count"] or 0, totals["mismatches"] or 0
