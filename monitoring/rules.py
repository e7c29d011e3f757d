"""The judgements, as pure functions of figures: health thresholds and alert rules.

No ORM here: `monitoring.health` and `monitoring.alerts` read rollups and hand the
figures in, so every rule can be tested with numbers written by hand.
"""

from dataclasses import dataclass

from monitoring.verdict import MIGRATED, ORIGINAL, ProviderHealth

# The procedure's alert rules (MigrationMonitor.collectAndAnalyzeMetrics).
ALERT_ERROR_RATE = 0.05  # critical
ALERT_P95_MS = 3000  # warning
ALERT_PROVIDER_LATENCY_DIFF_MS = 500  # info
ALERT_PROVIDER_ERROR_DIFF = 0.02  # info: 2 points

RULE_ERROR_RATE = "error_rate"
RULE_P95_LATENCY = "p95_latency"
RULE_PROVIDER_DIFFERENCE = "provider_difference"


def pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def judge_provider(figures: ProviderHealth, thresholds: dict) -> tuple[list[str], list[str]]:
    """(reasons it fails, warnings) of one provider's figures against the thresholds."""
    reasons, warnings = [], []
    label = figures.provider
    if figures.samples == 0:
        return reasons, warnings
    max_error_rate = thresholds.get("max_error_rate")
    if max_error_rate is not None and figures.error_rate > max_error_rate:
        reasons.append(f"{label}: error rate {pct(figures.error_rate)} > {pct(max_error_rate)}")
    max_avg = thresholds.get("max_avg_latency_ms")
    if max_avg is not None and figures.avg_latency_ms is not None and figures.avg_latency_ms > max_avg:
        reasons.append(f"{label}: average latency {figures.avg_latency_ms:.0f} ms > {max_avg:.0f} ms")
    warn_p95 = thresholds.get("warn_p95_latency_ms")
    if warn_p95 is not None and figures.p95_latency_ms is not None and figures.p95_latency_ms > warn_p95:
        warnings.append(f"{label}: p95 latency {figures.p95_latency_ms:.0f} ms > {warn_p95:.0f} ms")
    return reasons, warnings


def enough_samples(figures: ProviderHealth, thresholds: dict) -> bool:
    return figures.samples >= (thresholds.get("min_samples") or 1)


def samples_reason(figures: ProviderHealth, thresholds: dict, window_seconds: int) -> str:
    return (
        f"{figures.provider}: only {figures.samples} samples in the last {window_seconds} s; "
        f"at least {thresholds.get('min_samples') or 1} are needed to judge"
    )


def mismatch_reason(mismatch_rate: float | None, thresholds: dict) -> str | None:
    limit = thresholds.get("max_mismatch_rate")
    if limit is None or mismatch_rate is None or mismatch_rate <= limit:
        return None
    return f"comparison mismatch rate {pct(mismatch_rate)} > {pct(limit)}"


@dataclass(frozen=True)
class Condition:
    """An alert rule whose condition holds now."""

    rule: str
    severity: str
    message: str
    data: dict


def alert_conditions(providers: dict[str, ProviderHealth], thresholds: dict) -> list[Condition]:
    """The procedure's alert rules over a component's providers; only providers with
    `min_samples` samples count, so three requests with one error raise nothing.

    Error rate and p95 use the plan's `max_error_rate` and `warn_p95_latency_ms` when set
    (their defaults are the procedure's 5% and 3000 ms).
    """
    judged = {name: p for name, p in providers.items() if enough_samples(p, thresholds)}
    conditions = []
    max_error_rate = thresholds.get("max_error_rate") or ALERT_ERROR_RATE
    high_errors = [p for p in judged.values() if p.error_rate > max_error_rate]
    if high_errors:
        parts = ", ".join(f"{p.provider} {pct(p.error_rate)}" for p in high_errors)
        conditions.append(
            Condition(
                RULE_ERROR_RATE,
                "critical",
                f"High error rate: {parts} (threshold {pct(max_error_rate)})",
                {p.provider: {"error_rate": p.error_rate, "samples": p.samples} for p in high_errors},
            )
        )
    max_p95 = thresholds.get("warn_p95_latency_ms") or ALERT_P95_MS
    slow = [p for p in judged.values() if p.p95_latency_ms is not None and p.p95_latency_ms > max_p95]
    if slow:
        parts = ", ".join(f"{p.provider} {p.p95_latency_ms:.0f} ms" for p in slow)
        conditions.append(
            Condition(
                RULE_P95_LATENCY,
                "warning",
                f"High response times: P95 {parts} (threshold {max_p95:.0f} ms)",
                {p.provider: {"p95_latency_ms": p.p95_latency_ms, "samples": p.samples} for p in slow},
            )
        )
    original, migrated = judged.get(ORIGINAL), judged.get(MIGRATED)
    if original and migrated:
        latency_diff = abs((original.avg_latency_ms or 0) - (migrated.avg_latency_ms or 0))
        error_diff = abs(original.error_rate - migrated.error_rate)
        if latency_diff > ALERT_PROVIDER_LATENCY_DIFF_MS or error_diff > ALERT_PROVIDER_ERROR_DIFF:
            conditions.append(
                Condition(
                    RULE_PROVIDER_DIFFERENCE,
                    "info",
                    f"Provider performance difference: average latency differs by {latency_diff:.0f} ms, "
                    f"error rate by {error_diff * 100:.1f} points",
                    {"latency_difference_ms": latency_diff, "error_rate_difference": error_diff},
                )
            )
    return conditions
