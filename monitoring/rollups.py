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
from django.db.models import Sum

from controlplane import sql
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

    def __add__(self, other: "Figures") -> "Figures":
        """Two spans together (two buckets, or the same span of two operations)."""
        return Figures(
            samples=self.samples + other.samples,
            errors=self.errors + other.errors,
            latency_sum_ms=self.latency_sum_ms + other.latency_sum_ms,
            latency_max_ms=max(self.latency_max_ms, other.latency_max_ms),
            bucket_counts=tuple(a + b for a, b in zip(self.bucket_counts, other.bucket_counts, strict=True)),
        )


EMPTY = Figures(0, 0, 0.0, 0.0, (0,) * len(BUCKET_FIELDS))


def metric_figures(
    component_ids, since: datetime, until: datetime | None = None, *, by: tuple[str, ...] = ("provider",)
) -> dict[tuple, Figures]:
    """Summed rollups of buckets starting at or after `since` (and before `until`),
    grouped by `by` (fields of MetricRollup, e.g. ("provider",) or ("component", "operation", "provider")).
    SQL: the ORM takes longer to build these seventeen sums than the database takes to add them."""
    q = connection.ops.quote_name
    ids = list(component_ids)
    keys = ", ".join(q(MetricRollup._meta.get_field(name).column) for name in by)
    sums = [f"SUM({q(name)})" for name in ("count", "errors", "latency_sum_ms")] + [f"MAX({q('latency_max_ms')})"]
    sums += [f"SUM({q(name)})" for name in BUCKET_FIELDS]
    query = (
        f"SELECT {keys}, {', '.join(sums)} FROM {q(MetricRollup._meta.db_table)} "
        f"WHERE {q('component_id')} IN ({sql.placeholders(ids)}) AND {q('bucket_start')} >= %s"
    )
    params = [*ids, connection.ops.adapt_datetimefield_value(since)]
    if until is not None:
        query += f" AND {q('bucket_start')} < %s"
        params.append(connection.ops.adapt_datetimefield_value(until))
    figures = {}
    for row in sql.rows(f"{query} GROUP BY {keys}", params):
        key = tuple(sql.moment(v) if name == "bucket_start" else v for name, v in zip(by, row[: len(by)], strict=True))
        samples, errors, total, peak, *buckets = row[len(by) :]
        figures[key] = Figures(samples or 0, errors or 0, total or 0.0, peak or 0.0, tuple(b or 0 for b in buckets))
    return figures


def comparison_counts(component_id: int, since: datetime, until: datetime | None = None) -> tuple[int, int]:
    """(comparisons, mismatches) of the component in buckets from `since`."""
    rollups = ComparisonRollup.objects.filter(component_id=component_id, bucket_start__gte=since)
    if until is not None:
        rollups = rollups.filter(bucket_start__lt=until)
    totals = rollups.aggregate(count=Sum("count"), mismatches=Sum("mismatches"))
    return totals["count"] or 0, totals["mismatches"] or 0
