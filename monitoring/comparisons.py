"""Shadow comparisons: the mismatch rate per component and window, and the latest diffs."""

from datetime import datetime

from django.utils import timezone

from migrations_app.models import Component
from monitoring import rollups
from monitoring.buckets import window_start
from monitoring.health import thresholds_for
from monitoring.models import ComparisonMismatch


def summary(component: Component, window_seconds: int | None = None, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    window = int(window_seconds or thresholds_for(component)["window_seconds"])
    count, mismatches = rollups.comparison_counts(component.pk, window_start(now, window))
    latest = ComparisonMismatch.objects.filter(component=component).order_by("-id")[
        : ComparisonMismatch.KEEP_PER_COMPONENT
    ]
    return {
        "component": component.name,
        "window_seconds": window,
        "comparisons": count,
        "mismatches": mismatches,
        "mismatch_rate": mismatches / count if count else None,
        "latest_mismatches": [
            {"request_id": m.request_id, "diff": m.diff, "received_at": m.received_at.isoformat()} for m in latest
        ],
    }
