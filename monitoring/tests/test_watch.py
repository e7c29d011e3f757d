"""The periodic watch (health published live, alerts kept in step), retention pruning,
chart series and the comparisons summary."""

from datetime import UTC, datetime, timedelta

import pytest

from migrations_app import broadcast
from monitoring import watch
from monitoring.charts import series
from monitoring.models import Alert, MetricRollup, MetricSample, ProbeResult
from monitoring.tests.conftest import compare, report

PLAN = "truststream-v4.2"


@pytest.mark.django_db
def test_the_watch_publishes_each_active_components_health_and_raises_its_alerts(
    demo_plan, django_capture_on_commit_callbacks
):
    now = datetime.now(UTC)
    report(PLAN, "edge-functions", "migrated", [80] * 60, errors=9, at=now)
    report(PLAN, "agent-service", "original", [80] * 10, at=now - timedelta(hours=2))  # not active any more
    with django_capture_on_commit_callbacks() as callbacks:
        assert watch.watch(now) == 1
    health = [
        cb.args[2] for cb in callbacks if getattr(cb, "args", None) and cb.args[1] == broadcast.Event.HEALTH_CHANGED
    ]
    assert len(health) == 1
    assert (health[0]["component"], health[0]["failing"]) == ("edge-functions", True)
    assert health[0]["providers"]["migrated"]["error_rate"] == pytest.approx(0.15)
    assert Alert.objects.get().rule == "error_rate"


@pytest.mark.django_db
def test_a_component_with_an_open_alert_is_watched_until_it_resolves(demo_plan):
    now = datetime.now(UTC) - timedelta(hours=3)
    report(PLAN, "edge-functions", "migrated", [80] * 60, errors=9, at=now)
    watch.watch(now)
    later = now + timedelta(hours=2)  # no samples in the last hour: only the open alert keeps it watched
    assert watch.watch(later) == 1
    assert Alert.objects.get().state == "resolved"
    assert watch.watch(later) == 0


@pytest.mark.django_db
def test_pruning_deletes_old_raw_samples_and_probes_and_keeps_rollups(demo_plan, settings):
    settings.METRICS_RETENTION_HOURS = 24
    now = datetime.now(UTC)
    report(PLAN, "edge-functions", "migrated", [80] * 5, at=now - timedelta(hours=23))
    report(PLAN, "edge-functions", "migrated", [80] * 3, at=now - timedelta(hours=1))
    ProbeResult.objects.create(kind="database", target="target", ok=True, at=now - timedelta(hours=30))
    ProbeResult.objects.create(kind="database", target="target", ok=True, at=now)
    assert watch.prune(now + timedelta(hours=2)) == 5 + 1
    assert MetricSample.objects.count() == 3
    assert ProbeResult.objects.count() == 1
    assert sum(MetricRollup.objects.values_list("count", flat=True)) == 8


@pytest.mark.django_db
def test_chart_series_group_buckets_into_steps_per_provider(demo_plan):
    now = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
    at = datetime(2026, 3, 2, 11, 58, 5, tzinfo=UTC)
    edge = demo_plan.components.get(name="edge-functions")
    report(PLAN, "edge-functions", "migrated", [100] * 10, errors=1, at=at)
    report(PLAN, "edge-functions", "migrated", [300] * 10, errors=3, at=at + timedelta(seconds=20))
    report(PLAN, "edge-functions", "original", [50] * 4, at=at + timedelta(seconds=70))
    compare(PLAN, "edge-functions", [True, False, False, True], at=at)
    points = series(edge, window_seconds=600, step_seconds=60, now=now)
    assert points["step_seconds"] == 60
    (migrated,) = points["providers"]["migrated"]
    assert migrated["at"] == "2026-03-02T11:58:00+00:00"
    assert (migrated["samples"], migrated["error_rate"], migrated["avg_latency_ms"]) == (20, 0.2, 200)
    (original,) = points["providers"]["original"]
    assert (original["at"], original["samples"]) == ("2026-03-02T11:59:00+00:00", 4)
    assert points["mismatch_rate"] == [{"at": "2026-03-02T11:58:00+00:00", "comparisons": 4, "mismatch_rate": 0.5}]


@pytest.mark.django_db
def test_the_comparisons_endpoint_gives_the_rate_and_the_latest_diffs(client, demo_plan, viewer):
    compare(PLAN, "edge-functions", [True, True, True, False], at=datetime.now(UTC))
    client.force_login(viewer)
    body = client.get(f"/api/v1/plans/{PLAN}/components/edge-functions/comparisons?window=60").json()
    assert (body["comparisons"], body["mismatches"], body["mismatch_rate"]) == (4, 1, 0.25)
    assert [m["request_id"] for m in body["latest_mismatches"]] == ["r3"]
    assert body["latest_mismatches"][0]["diff"] == {"field": 3}
