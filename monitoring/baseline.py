"""The performance baseline: what each operation did on the original provider before the
migration (average and p95 latency, throughput, error rate), from the rollups.

Captured on demand (the API), and when a plan's first traffic rollout starts
(`rollout.services.start_rollout`); the latest pre-migration assessment is kept with it.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from migrations_app import audit
from migrations_app.models import Plan
from migrations_app.roles import Actor, Permission
from monitoring import assessment, rollups, targets
from monitoring.buckets import BUCKET_SECONDS, window_start
from monitoring.models import Baseline, BaselineEntry, MetricRollup
from monitoring.rollups import Figures
from monitoring.verdict import ORIGINAL

DEFAULT_WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class OperationFigures:
    component_id: int
    component: str
    operation: str
    figures: Figures
    # Seconds covered by the buckets that hold samples: throughput is per second of
    # traffic seen, so a window longer than the traffic does not dilute it.
    span_seconds: float

    @property
    def throughput_per_s(self) -> float:
        return self.figures.samples / self.span_seconds if self.span_seconds else 0.0


def operation_figures(plan: Plan, provider: str, since: datetime, until: datetime | None = None):
    """Figures per (component, operation) of one provider over [since, until)."""
    components = {c.pk: c.name for c in plan.components.all()}
    grouped = rollups.metric_figures(components, since, until, by=("component", "operation", "provider"))
    spans = (
        MetricRollup.objects.filter(component_id__in=list(components), provider=provider, bucket_start__gte=since)
        .filter(**({"bucket_start__lt": until} if until else {}))
        .values("component", "operation")
        .annotate(first=Min("bucket_start"), last=Max("bucket_start"))
        .order_by()
    )
    span = {
        (row["component"], row["operation"]): (row["last"] - row["first"]).total_seconds() + BUCKET_SECONDS
        for row in spans
    }
    result = [
        OperationFigures(component_id, components[component_id], operation, figures, span[(component_id, operation)])
        for (component_id, operation, name), figures in grouped.items()
        if name == provider and figures.samples
    ]
    return sorted(result, key=lambda f: (f.component_id, f.operation))


def capture(
    plan: Plan, actor: Actor, *, window_seconds: int | None = None, reason: str = "", now: datetime | None = None
) -> Baseline:
    """Capture the baseline of every operation on the original provider.

    1. Sum the original provider's rollups per (component, operation) over the window
       (an hour by default).
    2. Run the pre-migration assessment of the plan's target databases; one that cannot
       be reached is noted in the audit event, not fatal.
    3. Store the baseline, its entries and the assessments, and audit it.
    """
    actor.require(Permission.OPERATE, "capture a performance baseline")
    now = now or timezone.now()
    window = int(window_seconds or DEFAULT_WINDOW_SECONDS)
    figures = operation_figures(plan, ORIGINAL, window_start(now, window))
    assessed, unreachable = [], {}
    for alias in targets.databases_of(plan):
        try:
            assessed += assessment.run(plan, actor, database=alias, now=now)
        except Exception as error:  # a database that cannot be reached must not block a rollout's start
            unreachable[alias] = f"{type(error).__name__}: {error}"
    with transaction.atomic():
        baseline = Baseline.objects.create(
            plan=plan, captured_at=now, captured_by_name=actor.name, window_seconds=window, reason=reason
        )
        BaselineEntry.objects.bulk_create(
            BaselineEntry(
                baseline=baseline,
                component_id=f.component_id,
                operation=f.operation,
                samples=f.figures.samples,
                errors=f.figures.errors,
                error_rate=f.figures.error_rate,
                avg_latency_ms=f.figures.avg_latency_ms,
                p95_latency_ms=f.figures.p95_latency_ms,
                throughput_per_s=f.throughput_per_s,
                latency_buckets=list(f.figures.bucket_counts),
                latency_max_ms=f.figures.latency_max_ms,
            )
            for f in figures
        )
        baseline.assessments.set(assessed)
        audit.record(
            actor=actor,
            action="baseline.captured",
            target=baseline,
            plan=plan,
            reason=reason,
            data={"operations": len(figures), "window_seconds": window, "unreachable_databases": unreachable},
        )
    return baseline


def latest(plan: Plan) -> Baseline | None:
    return Baseline.objects.filter(plan=plan).prefetch_related("entries__component", "assessments").first()
