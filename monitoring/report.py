"""The post-migration report (the procedure's PostMigrationAnalyzer): performance against
the baseline, reliability, each phase planned against actual, recommendations, and the
procedure's success criteria, met or not.

"Current" figures are the migrated provider's over the report window (the baseline's
window by default) ending now. Overall figures combine the operations present in both
the baseline and the window, weighted by their samples.
"""

from datetime import datetime

from django.utils import timezone

from migrations_app.models import AuditEvent, Plan, StepAttempt
from monitoring import assessment
from monitoring.baseline import DEFAULT_WINDOW_SECONDS, OperationFigures, latest, operation_figures
from monitoring.buckets import quantile, window_start
from monitoring.models import Alert, Baseline
from monitoring.recommendations import recommendations
from monitoring.verdict import MIGRATED

# The procedure's success metrics: "< 0.1% error rate increase", "within 5% of baseline".
MAX_ERROR_RATE_INCREASE = 0.001
MAX_LATENCY_INCREASE = 0.05
# What the system records when something goes back to the original implementation, by
# the kind the report counts it under. An emergency rollback counts once, however many
# rollouts it moved (each of them also records rollout.emergency_rolled_back).
ROLLBACKS = {
    "rollout.auto_rolled_back": "health_gate",
    "plan.emergency_rollback": "emergency",
    "rollout.planned_rollback_started": "planned",
    "component.rolled_back": "component",
    "phase.rolled_back": "phase",
}
DAY = 86400


def _summary(samples, errors, avg, p95, throughput) -> dict:
    return {
        "samples": samples,
        "errors": errors,
        "error_rate": errors / samples if samples else None,
        "avg_latency_ms": avg,
        "p95_latency_ms": p95,
        "throughput_per_s": throughput,
    }


def _pct(current, base):
    if current is None or base in (None, 0):
        return None
    return (current - base) / base * 100


def _changes(base: dict | None, current: dict | None) -> dict | None:
    if not base or not current:
        return None
    points = None
    if base["error_rate"] is not None and current["error_rate"] is not None:
        points = (current["error_rate"] - base["error_rate"]) * 100
    return {
        "avg_latency_pct": _pct(current["avg_latency_ms"], base["avg_latency_ms"]),
        "p95_latency_pct": _pct(current["p95_latency_ms"], base["p95_latency_ms"]),
        "throughput_pct": _pct(current["throughput_per_s"], base["throughput_per_s"]),
        "error_rate_points": points,
    }


def _combined(parts: list[tuple[int, int, float, list[int], float, float]]) -> dict | None:
    """Overall figures from (samples, errors, latency_sum, buckets, max, throughput) parts."""
    samples = sum(p[0] for p in parts)
    if not samples:
        return None
    errors = sum(p[1] for p in parts)
    buckets = [sum(column) for column in zip(*(p[3] for p in parts), strict=True)]
    return _summary(
        samples,
        errors,
        sum(p[2] for p in parts) / samples,
        quantile(0.95, buckets, max(p[4] for p in parts)),
        sum(p[5] for p in parts),
    )


def performance(baseline: Baseline | None, current: list[OperationFigures]) -> dict:
    now_by_key = {(f.component, f.operation): f for f in current}
    entries = {(e.component.name, e.operation): e for e in baseline.entries.all()} if baseline else {}
    rows, base_parts, current_parts = [], [], []
    for key in sorted(set(entries) | set(now_by_key)):
        entry, figures = entries.get(key), now_by_key.get(key)
        base = (
            _summary(entry.samples, entry.errors, entry.avg_latency_ms, entry.p95_latency_ms, entry.throughput_per_s)
            if entry
            else None
        )
        now = None
        if figures:
            f = figures.figures
            now = _summary(f.samples, f.errors, f.avg_latency_ms, f.p95_latency_ms, figures.throughput_per_s)
        change = _changes(base, now)
        rows.append({"component": key[0], "operation": key[1], "baseline": base, "current": now, "change": change})
        if entry and figures:
            base_parts.append(
                (
                    entry.samples,
                    entry.errors,
                    (entry.avg_latency_ms or 0) * entry.samples,
                    entry.latency_buckets,
                    entry.latency_max_ms,
                    entry.throughput_per_s,
                )
            )
            f = figures.figures
            buckets = list(f.bucket_counts)
            current_parts.append(
                (f.samples, f.errors, f.latency_sum_ms, buckets, f.latency_max_ms, figures.throughput_per_s)
            )
    overall_base, overall_now = _combined(base_parts), _combined(current_parts)
    return {
        "operations": rows,
        "overall": {"baseline": overall_base, "current": overall_now, "change": _changes(overall_base, overall_now)},
    }


def success_criteria(overall: dict) -> list[dict]:
    base, now = overall["baseline"], overall["current"]
    increase = latency = None
    if base and now:
        increase = now["error_rate"] - base["error_rate"]
        latency = _pct(now["avg_latency_ms"], base["avg_latency_ms"])
    return [
        {
            "key": "error_rate_increase",
            "criterion": "Error rate increase under 0.1 points",
            "baseline": base["error_rate"] if base else None,
            "current": now["error_rate"] if now else None,
            "value_points": increase * 100 if increase is not None else None,
            "met": increase < MAX_ERROR_RATE_INCREASE if increase is not None else None,
        },
        {
            "key": "performance",
            "criterion": "Average latency within 5% of the baseline",
            "baseline": base["avg_latency_ms"] if base else None,
            "current": now["avg_latency_ms"] if now else None,
            "value_pct": latency,
            "met": latency <= MAX_LATENCY_INCREASE * 100 if latency is not None else None,
        },
    ]


def reliability(plan: Plan) -> dict:
    failed = StepAttempt.objects.filter(component__plan=plan, status=StepAttempt.Status.FAILED)
    by_component: dict[str, int] = {}
    for name in failed.values_list("component__name", flat=True):
        by_component[name] = by_component.get(name, 0) + 1
    rollbacks = dict.fromkeys(ROLLBACKS.values(), 0)
    for action in AuditEvent.objects.filter(plan=plan, action__in=ROLLBACKS).values_list("action", flat=True):
        rollbacks[ROLLBACKS[action]] += 1
    alerts = dict.fromkeys(Alert.Severity.values, 0)
    for severity in Alert.objects.filter(plan=plan).values_list("severity", flat=True):
        alerts[severity] += 1
    return {
        "failed_steps": sum(by_component.values()),
        "failed_steps_by_component": by_component,
        "rolled_back_steps": StepAttempt.objects.filter(
            component__plan=plan, status=StepAttempt.Status.ROLLED_BACK
        ).count(),
        "rollbacks": sum(rollbacks.values()),
        "rollbacks_by_kind": rollbacks,
        "alerts": sum(alerts.values()),
        "alerts_by_severity": alerts,
        "open_alerts": Alert.objects.filter(plan=plan, resolved_at__isnull=True).count(),
    }


def phases(plan: Plan, now: datetime) -> list[dict]:
    rows = []
    for phase in plan.phases.all():
        end = phase.promoted_at or (now if phase.started_at else None)
        actual = (end - phase.started_at).total_seconds() / DAY if phase.started_at and end else None
        rows.append(
            {
                "key": phase.key,
                "name": phase.name,
                "state": phase.state,
                "planned_days": [phase.days_min, phase.days_max],
                "started_at": phase.started_at.isoformat() if phase.started_at else None,
                "promoted_at": phase.promoted_at.isoformat() if phase.promoted_at else None,
                "actual_days": actual,
                "finished": phase.promoted_at is not None,
                "within_plan": actual <= phase.days_max if actual is not None else None,
            }
        )
    return rows


def build_report(
    plan: Plan, *, baseline: Baseline | None = None, window_seconds: int | None = None, now: datetime | None = None
) -> dict:
    now = now or timezone.now()
    baseline = baseline or latest(plan)
    window = int(window_seconds or (baseline.window_seconds if baseline else DEFAULT_WINDOW_SECONDS))
    current = operation_figures(plan, MIGRATED, window_start(now, window))
    perf = performance(baseline, current)
    report = {
        "plan": plan.key,
        "generated_at": now.isoformat(),
        "window_seconds": window,
        "baseline": (
            {
                "id": baseline.pk,
                "captured_at": baseline.captured_at.isoformat(),
                "captured_by": baseline.captured_by_name,
                "window_seconds": baseline.window_seconds,
            }
            if baseline
            else None
        ),
        "performance": perf,
        "success_criteria": success_criteria(perf["overall"]),
        "reliability": reliability(plan),
        "phases": phases(plan, now),
        "assessment": [
            {"database": a.database, "vendor": a.vendor, "ran_at": a.ran_at.isoformat(), **a.result}
            for a in (baseline.assessments.all() if baseline else assessment.latest(plan))
        ],
    }
    report["recommendations"] = recommendations(report)
    return report
