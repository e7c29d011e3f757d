"""Health of every traffic component of a page at once: the verdict of
`monitoring.health.evaluate`, read in a fixed number of queries.

`evaluate` reads per component (its rollups, comparisons, health-URL probes and the plan's
database probes: about five queries); a plan overview with ten traffic cards would pay
that ten times on every render and every pushed event. Here each kind of row is read once
for all the components, from the earliest window start among them, and each component
keeps the buckets of its own window; the judging is monitoring's own (`health.judge`, and
the probes' status). A test holds the two equal.
"""

from collections import defaultdict
from datetime import datetime

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from monitoring import health, probes, rollups
from monitoring.buckets import window_start
from monitoring.models import ComparisonRollup, ProbeResult
from monitoring.rollups import EMPTY, Figures
from monitoring.verdict import HealthVerdict


def verdicts(plan, components, now: datetime) -> dict[int, HealthVerdict]:
    """{component pk: verdict} for `components` of `plan` (their `rollout` loaded)."""
    if not components:
        return {}
    thresholds = {c.pk: health.thresholds_for(c) for c in components}
    windows = {c.pk: int(thresholds[c.pk]["window_seconds"]) for c in components}
    since = {pk: window_start(now, window) for pk, window in windows.items()}
    earliest = min(since.values())

    # One window for all (the usual case): the database sums per component and provider;
    # otherwise per bucket too, and each component keeps the buckets of its own window.
    per_bucket = len(set(since.values())) > 1
    by = ("component", "provider", "bucket_start") if per_bucket else ("component", "provider")
    metrics: dict[tuple[int, str], Figures] = defaultdict(lambda: EMPTY)
    for (component_id, provider, *bucket), figures in rollups.metric_figures(list(since), earliest, by=by).items():
        if not bucket or bucket[0] >= since[component_id]:
            metrics[(component_id, provider)] += figures

    compared: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = (
        ComparisonRollup.objects.filter(component_id__in=list(since), bucket_start__gte=earliest)
        .values("component_id", "bucket_start", "count", "mismatches")
        .order_by()
    )
    for row in rows:
        if row["bucket_start"] >= since[row["component_id"]]:
            compared[row["component_id"]][0] += row["count"]
            compared[row["component_id"]][1] += row["mismatches"]

    latest_probes = _latest_health_url_probes([c for c in components if c.health_url], now)
    database = probes.database_status(plan, now)
    return {
        c.pk: _verdict(c, thresholds[c.pk], windows[c.pk], metrics, compared[c.pk], latest_probes, database, now)
        for c in components
    }


def _latest_health_url_probes(components, now: datetime) -> dict[int, list]:
    """The last CONSECUTIVE_FAILURES probes of each component's health URL, in one query."""
    if not components:
        return {}
    ranked = (
        ProbeResult.objects.filter(component_id__in=[c.pk for c in components], kind=ProbeResult.Kind.HTTP, at__lte=now)
        .annotate(rank=Window(RowNumber(), partition_by=[F("component_id")], order_by=F("at").desc()))
        .filter(rank__lte=probes.CONSECUTIVE_FAILURES)
        .order_by("component_id", "-at")
    )
    found = defaultdict(list)
    for result in ranked:
        found[result.component_id].append(result)
    return found


def _verdict(component, thresholds, window, metrics, compared, latest_probes, database, now) -> HealthVerdict:
    return health.judge(
        component,
        thresholds,
        window,
        figures={name: metrics[(component.pk, name)] for name in health.PROVIDERS},
        compared=tuple(compared),
        probe=probes.health_url_status_from(component, latest_probes.get(component.pk, []), now),
        database=database,
    )
