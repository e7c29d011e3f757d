"""Chart series from rollups: error rate, average and p95 latency per provider, and the
comparison mismatch rate, per step of a multiple of 10 seconds."""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Max, Sum
from django.utils import timezone

from migrations_app.models import Component
from monitoring.buckets import BUCKET_FIELDS, BUCKET_SECONDS, bucket_start, quantile
from monitoring.models import ComparisonRollup, MetricRollup
from monitoring.verdict import MIGRATED, ORIGINAL

MAX_POINTS = 1000


def _step_start(start: datetime, step: int) -> datetime:
    epoch = start.timestamp()
    return datetime.fromtimestamp(epoch - epoch % step, tz=start.tzinfo)


def series(component: Component, *, window_seconds: int = 3600, step_seconds: int = 60, now: datetime | None = None):
    """Points from `now - window` to now; the step is rounded up to whole buckets and
    widened so that no series has more than MAX_POINTS points."""
    now = now or timezone.now()
    step = max(BUCKET_SECONDS, -(-step_seconds // BUCKET_SECONDS) * BUCKET_SECONDS)
    step = max(step, -(-window_seconds // MAX_POINTS // BUCKET_SECONDS) * BUCKET_SECONDS)
    since = bucket_start(now - timedelta(seconds=window_seconds))
    rows = (
        MetricRollup.objects.filter(component=component, bucket_start__gte=since)
        .values("bucket_start", "provider")
        .annotate(
            n=Sum("count"),
            e=Sum("errors"),
            s=Sum("latency_sum_ms"),
            m=Max("latency_max_ms"),
            **{f"b_{name}": Sum(name) for name in BUCKET_FIELDS},
        )
        .order_by()
    )
    acc: dict[tuple, list] = defaultdict(lambda: [0, 0, 0.0, 0.0, [0] * len(BUCKET_FIELDS)])
    for row in rows:
        point = acc[(row["provider"], _step_start(row["bucket_start"], step))]
        point[0] += row["n"]
        point[1] += row["e"]
        point[2] += row["s"]
        point[3] = max(point[3], row["m"])
        point[4] = [a + row[f"b_{name}"] for a, name in zip(point[4], BUCKET_FIELDS, strict=True)]
    providers = {}
    for provider in (ORIGINAL, MIGRATED):
        points = sorted((at, v) for (p, at), v in acc.items() if p == provider)
        providers[provider] = [
            {
                "at": at.isoformat(),
                "samples": n,
                "error_rate": e / n if n else None,
                "avg_latency_ms": s / n if n else None,
                "p95_latency_ms": quantile(0.95, buckets, m),
            }
            for at, (n, e, s, m, buckets) in points
        ]
    comparisons: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for row in ComparisonRollup.objects.filter(component=component, bucket_start__gte=since).values(
        "bucket_start", "count", "mismatches"
    ):
        point = comparisons[_step_start(row["bucket_start"], step)]
        point[0] += row["count"]
        point[1] += row["mismatches"]
    return {
        "component": component.name,
        "step_seconds": step,
        "since": since.isoformat(),
        "providers": providers,
        "mismatch_rate": [
            {"at": at.isoformat(), "comparisons": c, "mismatch_rate": m / c if c else None}
            for at, (c, m) in sorted(comparisons.items())
        ],
    }
