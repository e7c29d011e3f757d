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
    """The component's health over the window (the rollout's `window_seconds` by default):
    the window's rollups summed per provider (p95 from the latency buckets), its comparison
    counts, the health URL's latest probes and the plan's databases' latest probes, judged
    by `judge`."""
    thresholds = thresholds_for(component)
    window = int(window_seconds or thresholds["window_seconds"])
    now = now or timezone.now()
    since = window_start(now, window)
    by_provider = rollups.metric_figures([component.pk], since)
    return judge(
        component,
        thresholds,
        window,
        figures={name: by_provider.get((name,), EMPTY) for name in PROVIDERS},
        compared=rollups.comparison_counts(component.pk, since),
        probe=probes.health_url_status(component, now),
        database=probes.database_status(component.plan, now),
    )


def judge(
    component: Component,
    thresholds: dict,
    window: int,
    *,
    figures: dict[str, Figures],
    compared: tuple[int, int],
    probe: probes.ProbeStatus,
    database: probes.DatabaseStatus,
) -> HealthVerdict:
    """The verdict on what was read for the window, however it was read (`evaluate` reads
    one component; the plan overview reads all its traffic components at once).

    1. Judge the migrated provider against the thresholds, refusing to pass below
       `min_samples` (ten requests cannot promote anything); either provider's figures
       past a warning threshold are warnings.
    2. Add the comparison mismatch rate (judged when `max_mismatch_rate` is set), the
       health URL's status and the databases' status.

    `figures`: per provider; `compared`: (comparisons, mismatches)."""
    providers = {name: provider_health(name, figures.get(name, EMPTY), thresholds) for name in PROVIDERS}
    migrated = providers[MIGRATED]

    enough = rules.enough_samples(migrated, thresholds)
    reasons: list[str] = list(migrated.reasons) if enough else [rules.samples_reason(migrated, thresholds, window)]
    warnings: list[str] = []
    for provider in providers.values():
        warnings += rules.judge_provider(provider, thresholds)[1] if rules.enough_samples(provider, thresholds) else []

    comparisons, mismatches = compared
    mismatch_rate = mismatches / comparisons if comparisons else None
    mismatch = rules.mismatch_reason(mismatch_rate, thresholds)
    if mismatch:
        reasons.append(mismatch)

    if probe.reason:
        reasons.append(probe.reason)
    warnings += probe.warnings
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
