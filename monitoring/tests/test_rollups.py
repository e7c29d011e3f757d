"""Rollups hold exactly what the raw rows say, and quantiles read from their buckets land
within one bucket of the exact value."""

import json
import math
import random
import statistics
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring.buckets import LATENCY_BOUNDS_MS, quantile
from monitoring.ingest import ingest_metrics
from monitoring.models import MetricRollup, MetricSample
from monitoring.rollups import metric_figures
from monitoring.tests.conftest import INGESTER

PLAN = "truststream-v4.2"
AT = datetime.now(UTC).replace(microsecond=0)


def random_batch(rng: random.Random, count: int) -> list[dict]:
    items = []
    for _ in range(count):
        items.append(
            {
                "plan": PLAN,
                "component": rng.choice(["edge-functions", "blue-green-deployment"]),
                "operation": rng.choice(["create", "score"]),
                "provider": rng.choice(["original", "migrated"]),
                "duration_ms": round(rng.lognormvariate(4, 1.5), 3),
                "success": rng.random() > 0.07,
                "recorded_at": (AT - timedelta(seconds=rng.uniform(0, 120))).isoformat(),
            }
        )
    return items


def expected_from_raw() -> dict:
    """Per (component, operation, provider, 10-second bucket): figures straight from the
    raw rows, bucket by bucket, written without the code under test."""
    groups: dict[tuple, list[MetricSample]] = {}
    for sample in MetricSample.objects.all():
        epoch = int(sample.recorded_at.timestamp())
        start = datetime.fromtimestamp(epoch - epoch % 10, tz=UTC)
        groups.setdefault((sample.component_id, sample.operation, sample.provider, start), []).append(sample)
    expected = {}
    for key, samples in groups.items():
        durations = [s.duration_ms for s in samples]
        bounds = [0, *LATENCY_BOUNDS_MS, math.inf]
        per_bucket = [sum(1 for d in durations if low < d <= high) for low, high in pairwise(bounds)]
        per_bucket[0] += sum(1 for d in durations if d == 0)
        expected[key] = {
            "count": len(samples),
            "errors": sum(1 for s in samples if not s.success),
            "latency_sum_ms": math.fsum(durations),
            "latency_max_ms": max(durations),
            "buckets": per_bucket,
        }
    return expected


@pytest.mark.django_db
def test_rollups_equal_the_figures_of_the_raw_rows(demo_plan):
    rng = random.Random(20240601)
    for size in (1500, 700, 2300):  # several batches land in the same buckets
        ingest_metrics(json.dumps(random_batch(rng, size)).encode(), "application/json", actor=INGESTER, now=AT)
    expected = expected_from_raw()
    rollups = {(r.component_id, r.operation, r.provider, r.bucket_start): r for r in MetricRollup.objects.all()}
    assert set(rollups) == set(expected)
    assert sum(r.count for r in rollups.values()) == 4500
    for key, figures in expected.items():
        rollup = rollups[key]
        assert rollup.count == figures["count"]
        assert rollup.errors == figures["errors"]
        assert rollup.latency_sum_ms == pytest.approx(figures["latency_sum_ms"], rel=1e-9)
        assert rollup.latency_max_ms == figures["latency_max_ms"]
        assert rollup.bucket_counts() == figures["buckets"]


@pytest.mark.django_db
def test_window_figures_from_rollups_match_statistics_over_the_raw_rows(demo_plan):
    rng = random.Random(7)
    ingest_metrics(json.dumps(random_batch(rng, 3000)).encode(), "application/json", actor=INGESTER, now=AT)
    component = demo_plan.components.get(name="edge-functions")
    figures = metric_figures([component.pk], AT - timedelta(hours=1))
    for provider in ("original", "migrated"):
        raw = MetricSample.objects.filter(component_id=component.pk, provider=provider)
        durations = [s.duration_ms for s in raw]
        got = figures[(provider,)]
        assert got.samples == len(durations)
        assert got.errors == raw.filter(success=False).count()
        assert got.avg_latency_ms == pytest.approx(statistics.fmean(durations), rel=1e-9)


def exact_p95(durations: list[float]) -> float:
    """Nearest rank: the smallest value with at least 95% of the values at or below it."""
    ordered = sorted(durations)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def bucket_width_holding(value: float, largest: float) -> float:
    bounds = [0, *LATENCY_BOUNDS_MS]
    for low, high in pairwise(bounds):
        if value <= high:
            return high - low
    return largest - LATENCY_BOUNDS_MS[-1]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0, max_value=60_000, allow_nan=False),
            st.sampled_from([0.0, 5.0, 10.0, 2000.0, 3000.0, 10_000.0]),
        ),
        min_size=1,
        max_size=400,
    )
)
def test_p95_from_buckets_is_within_one_bucket_width_of_the_exact_p95(durations):
    bounds = [0, *LATENCY_BOUNDS_MS, math.inf]
    counts = [sum(1 for d in durations if low < d <= high) for low, high in pairwise(bounds)]
    counts[0] += sum(1 for d in durations if d == 0)
    exact = exact_p95(durations)
    estimate = quantile(0.95, counts, max(durations))
    assert abs(estimate - exact) <= bucket_width_holding(exact, max(durations)) + 1e-9


def test_quantiles_interpolate_linearly_inside_a_bucket():
    # 100 samples, all in (100, 250]: the p95 is 95% of the way through that bucket.
    counts = [0] * 13
    counts[5] = 100
    assert quantile(0.95, counts) == pytest.approx(100 + 150 * 0.95)
    assert quantile(0.5, [0] * 13) is None
