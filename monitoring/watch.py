"""The periodic look at every active component: its health, published live (the charts'
points), and its rule alerts opened or resolved to match. Also retention pruning."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Subquery
from django.utils import timezone

from migrations_app import broadcast
from monitoring import alerts, probes
from monitoring.models import MetricSample
from monitoring.verdict import HealthVerdict

PRUNE_CHUNK = 50_000
PRUNE_MAX_CHUNKS = 200


def verdict_payload(verdict: HealthVerdict, at: datetime) -> dict:
    figures = verdict.figures()
    figures.pop("thresholds", None)
    return {**figures, "at": at.isoformat(), "failing": verdict.failing, "thresholds": verdict.thresholds}


def watch(now: datetime | None = None) -> int:
    """Evaluate every watched component; returns how many were evaluated."""
    now = now or timezone.now()
    components = alerts.watched_components(now)
    for component in components:
        verdict = alerts.evaluate_component(component, now)
        broadcast.publish(component.plan_id, broadcast.Event.HEALTH_CHANGED, verdict_payload(verdict, now))
    return len(components)


def prune(now: datetime | None = None) -> int:
    """Delete raw samples and probe results older than METRICS_RETENTION_HOURS, in chunks
    so that no single statement holds locks for long. Rollups are kept."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.METRICS_RETENTION_HOURS)
    deleted = 0
    for _ in range(PRUNE_MAX_CHUNKS):
        old = MetricSample.objects.filter(recorded_at__lt=cutoff).values("pk")[:PRUNE_CHUNK]
        count = MetricSample.objects.filter(pk__in=Subquery(old)).delete()[0]
        deleted += count
        if count < PRUNE_CHUNK:
            break
    return deleted + probes.prune(cutoff)
