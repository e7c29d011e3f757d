"""Health of a component over a sliding window: the verdict the rollout controller gates on.

`evaluate` reads rollups only (never raw samples), the latest probes of the component's
health URL and of the plan's databases, and the comparison rollups; it writes nothing.
"""

from datetime import datetime

from django.utils import timezone

from migrations_app.models import Component, Rollout
from migrations_app.planfile.schema import DEFAULT_HEALTH
from migrations_app.timescale import scaled
from monitoring import probes, rollups, rules
from monitoring.buckets import window_start
from monitoring.rollups import EMPTY, Figures
from monitoring.verdict import MIGRATED, ORIGINAL, HealthVerdict, ProviderHealth

PROVIDERS = (ORIGINAL, MIGRATED)


def thresholds_for(component: Component) -> dict:
    """The component's rollout health settings; without a rollout, the plan's defaults
    merged over monitoring's (the procedure's) defaults."""
    try:
        own = component.rollout.health
    except Rollout.DoesNotExist:
        own = (component.plan.rollout_defaults or {}).get("health") or {}
    thresholds = DEFAULT_HEALTH | own
    return thresholds | {"window_seconds": scaled(thresholds["window_seconds"])}


def provider_health(provider: str, figures: Figures, thresholds: dict) -> ProviderHealth:
    base = ProviderHealth(
        provider=provider,
        samples=figures.samples,
        errors=figures.errors,
        error_rate=figures.error_rate,
        avg_latency_ms=figures.avg_latency_ms,
        p95_latency_ms=figures.p95_latency_ms,
    )
    if not rules.enough_samples(base, thresholds):
        return base
    reasons, _ = rules.judge_provider(base, thresholds)
    return ProviderHealth(**{**base.__dict__, "healthy": not reasons, "reasons": reasons})


def evaluate(component: Component, window_seconds: int | None = None, now: datetime | None = None) -> HealthVerdict:
    """The component's health over the window (the rollout's `window_seconds` by default).

    1. Sum the rollups of the window per provider; p95 from the latency buckets.
    2. Judge the migrated provider against the thresholds, refusing to pass below
       `min_samples` (ten requests cannot promote anything).
    3. Add the comparison mismatch rate (judged when `max_mismatch_rate` is set), the
       health URL's latest probes and the plan's databases' latest probes.
    """
    thresholds = thresholds_for(component)
    window = int(window_seconds or thresholds["window_seconds"])
    now = now or timezone.now()
    since = window_start(now, window)
    by_provider = rollups.metric_figures([component.pk], since)
    providers = {name: provider_health(name, by_provider.get((name,), EMPTY), thresholds) for name in PROVIDERS}
    migrated = providers[MIGRATED]

    enough = rules.enough_samples(migrated, thresholds)
    reasons: list[str] = list(migrated.reasons) if enough else [rules.samples_reason(migrated, thresholds, window)]
    warnings: list[str] = []
    for figures in providers.values():
        warnings += rules.judge_provider(figures, thresholds)[1] if rules.enough_samples(figures, thresholds) else []

    comparisons, mismatches = rollups.comparison_counts(component.pk, since)
    mismatch_rate = mismatches / comparisons if comparisons else None
    mismatch = rules.mismatch_reason(mismatch_rate, thresholds)
    if mismatch:
        reasons.append(mismatch)

    probe = probes.health_url_status(component, now)
    if probe.reason:
        reasons.append(probe.reason)
    warnings += probe.warnings
    database = probes.database_status(component.plan, now)
    reasons += database.reasons
    warnings += database.warnings

    return HealthVerdict(
        component=component.name,
        window_seconds=window,
        providers=providers,
        mismatch_rate=mismatch_rate,
        database_healthy=database.healthy,
        enough_samples=enough,
        healthy=enough and not reasons,
        reasons=reasons,
        warnings=warnings,
        probe_healthy=probe.healthy,
        comparisons=comparisons,
        thresholds=thresholds,
    )
