"""The baseline and the post-migration report on a fixed data set; every expected figure
below is worked out by hand from the samples, in the comments beside it."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.template.loader import render_to_string

from conftest import actor
from migrations_app.models import Phase, Run, Step, StepAttempt
from migrations_app.roles import Actor, Permission
from migrations_app.rollout import emergency, services
from migrations_app.rollout.tests.conftest import migrated
from monitoring import alerts, baseline, report
from monitoring.models import Baseline
from monitoring.tests.conftest import report as send

PLAN = "truststream-v4.2"
OPERATOR = Actor(name="olga", permissions=frozenset({Permission.OPERATE, Permission.VIEW}))
B = datetime(2026, 3, 2, 12, 10, 5, tzinfo=UTC)  # baseline captured
R = datetime(2026, 3, 2, 14, 0, 5, tzinfo=UTC)  # report generated


def at(hh, mm, ss):
    return datetime(2026, 3, 2, hh, mm, ss, tzinfo=UTC)


@pytest.fixture
def fixed_data(demo_plan, settings):
    settings.METRICS_RETENTION_HOURS = 24 * 365 * 10
    settings.TARGET_DATABASES = {}  # no database to assess in this test
    # Before: original provider.
    send(PLAN, "edge-functions", "original", [100] * 20, errors=1, at=at(12, 9, 5), operation="coordinate")
    send(PLAN, "edge-functions", "original", [200] * 20, errors=1, at=at(12, 9, 35), operation="coordinate")
    send(PLAN, "blue-green-deployment", "original", [1000] * 10, at=at(12, 9, 45), operation="serve")
    baseline.capture(demo_plan, OPERATOR, reason="first rollout starts", now=B)
    # After: migrated provider (and original traffic the report must ignore).
    send(PLAN, "edge-functions", "migrated", [120] * 40, errors=1, at=at(13, 58, 5), operation="coordinate")
    send(PLAN, "edge-functions", "migrated", [120] * 40, at=at(13, 59, 5), operation="coordinate")
    send(PLAN, "edge-functions", "original", [5000] * 40, errors=40, at=at(13, 59, 5), operation="coordinate")
    send(PLAN, "blue-green-deployment", "migrated", [900] * 10, at=at(13, 59, 45), operation="serve")
    send(PLAN, "edge-functions", "migrated", [50] * 5, at=at(13, 59, 55), operation="extra")
    return demo_plan


@pytest.mark.django_db
def test_the_baseline_holds_each_operation_on_the_original_provider(fixed_data):
    captured = baseline.latest(fixed_data)
    assert (captured.captured_by_name, captured.window_seconds, captured.reason) == (
        "olga",
        3600,
        "first rollout starts",
    )
    entries = {(e.component.name, e.operation): e for e in captured.entries.all()}
    assert set(entries) == {("edge-functions", "coordinate"), ("blue-green-deployment", "serve")}
    coordinate = entries[("edge-functions", "coordinate")]
    assert (coordinate.samples, coordinate.errors) == (40, 2)
    assert coordinate.error_rate == pytest.approx(0.05)
    assert coordinate.avg_latency_ms == pytest.approx(150)  # (20*100 + 20*200) / 40
    # 20 samples in (50, 100], 20 in (100, 250]; rank 0.95*40 = 38: 100 + 150 * (38-20)/20
    assert coordinate.p95_latency_ms == pytest.approx(235)
    # buckets 12:09:00 and 12:09:30 hold samples: 40 samples over 40 s
    assert coordinate.throughput_per_s == pytest.approx(1.0)
    serve = entries[("blue-green-deployment", "serve")]
    assert (serve.samples, serve.avg_latency_ms, serve.p95_latency_ms, serve.throughput_per_s) == (10, 1000, 975, 1.0)


@pytest.mark.django_db
def test_the_report_compares_performance_with_the_baseline(fixed_data):
    built = report.build_report(fixed_data, now=R)
    assert built["window_seconds"] == 3600
    rows = {(r["component"], r["operation"]): r for r in built["performance"]["operations"]}
    coordinate = rows[("edge-functions", "coordinate")]
    current = coordinate["current"]
    assert (current["samples"], current["errors"], current["avg_latency_ms"]) == (80, 1, 120)
    assert current["error_rate"] == pytest.approx(1 / 80)
    assert current["p95_latency_ms"] == pytest.approx(242.5)  # 100 + 150 * 76/80
    assert current["throughput_per_s"] == pytest.approx(80 / 70)  # buckets 13:58:00 .. 13:59:00 + 10 s
    change = coordinate["change"]
    assert change["avg_latency_pct"] == pytest.approx(-20)  # (120 - 150) / 150
    assert change["p95_latency_pct"] == pytest.approx((242.5 - 235) / 235 * 100)
    assert change["throughput_pct"] == pytest.approx((80 / 70 - 1) * 100)
    assert change["error_rate_points"] == pytest.approx(-3.75)  # 1.25% - 5%
    serve = rows[("blue-green-deployment", "serve")]["change"]
    assert (serve["avg_latency_pct"], serve["p95_latency_pct"], serve["error_rate_points"]) == (
        pytest.approx(-10),
        0,
        0,
    )
    extra = rows[("edge-functions", "extra")]
    assert extra["baseline"] is None and extra["change"] is None and extra["current"]["samples"] == 5


@pytest.mark.django_db
def test_overall_figures_and_success_criteria_combine_the_operations_in_both(fixed_data):
    built = report.build_report(fixed_data, now=R)
    overall = built["performance"]["overall"]
    # Baseline: 50 samples, 2 errors, latency (40*150 + 10*1000) / 50 = 320;
    # buckets 20 | 20 | 10 (in (500, 1000]): rank 47.5 -> 500 + 500 * 7.5/10 = 875.
    assert overall["baseline"]["samples"] == 50
    assert overall["baseline"]["error_rate"] == pytest.approx(0.04)
    assert overall["baseline"]["avg_latency_ms"] == pytest.approx(320)
    assert overall["baseline"]["p95_latency_ms"] == pytest.approx(875)
    assert overall["baseline"]["throughput_per_s"] == pytest.approx(2.0)
    # Current ("extra" is not in the baseline, so left out): 90 samples, 1 error,
    # (80*120 + 10*900) / 90; buckets 80 | 10: rank 85.5 -> 500 + 500 * 5.5/10 = 775.
    assert overall["current"]["samples"] == 90
    assert overall["current"]["avg_latency_ms"] == pytest.approx(18600 / 90)
    assert overall["current"]["p95_latency_ms"] == pytest.approx(775)
    assert overall["change"]["avg_latency_pct"] == pytest.approx((18600 / 90 - 320) / 320 * 100)
    criteria = {c["key"]: c for c in built["success_criteria"]}
    assert criteria["error_rate_increase"]["value_points"] == pytest.approx((1 / 90 - 0.04) * 100)
    assert criteria["error_rate_increase"]["met"] is True
    assert criteria["performance"]["met"] is True


@pytest.mark.django_db
def test_a_slower_migration_misses_the_performance_criterion(demo_plan, settings):
    settings.METRICS_RETENTION_HOURS = 24 * 365 * 10
    settings.TARGET_DATABASES = {}
    send(PLAN, "edge-functions", "original", [100] * 50, at=at(12, 9, 5))
    baseline.capture(demo_plan, OPERATOR, now=B)
    send(PLAN, "edge-functions", "migrated", [106] * 50, errors=1, at=at(13, 59, 5))
    built = report.build_report(demo_plan, now=R)
    criteria = {c["key"]: c for c in built["success_criteria"]}
    assert criteria["performance"]["value_pct"] == pytest.approx(6.0)
    assert criteria["performance"]["met"] is False
    assert criteria["error_rate_increase"]["value_points"] == pytest.approx(2.0)
    assert criteria["error_rate_increase"]["met"] is False
    descriptions = [r["description"] for r in built["recommendations"]]
    assert any(d.startswith("Average latency is 6.0% above the baseline") for d in descriptions)
    assert any(d.startswith("The error rate rose by 2.00 points") for d in descriptions)


def failed_attempt(plan, component_name):
    component = plan.components.get(name=component_name)
    step = Step.objects.filter(component=component).first()
    run = Run.objects.create(plan=plan, phase=component.phase, triggered_by_name="system", state="failed")
    StepAttempt.objects.create(
        run=run, component=component, step=step, status="failed", triggered_by_name="system", started_at=R
    )


@pytest.mark.django_db
def test_the_report_counts_failures_rollbacks_and_alerts_and_phase_durations(fixed_data):
    failed_attempt(fixed_data, "edge-functions")
    emergency.emergency_rollback(fixed_data, actor=OPERATOR, reason="error rate 12%")
    alerts.raise_alert(fixed_data, rule="automatic_rollback", severity="critical", message="rolled back")
    Phase.objects.filter(plan=fixed_data, key="setup").update(
        started_at=R - timedelta(days=3), promoted_at=R - timedelta(hours=12)
    )
    Phase.objects.filter(plan=fixed_data, key="abstraction").update(started_at=R - timedelta(hours=12))
    built = report.build_report(fixed_data, now=R)
    reliability = built["reliability"]
    assert (reliability["failed_steps"], reliability["failed_steps_by_component"]) == (1, {"edge-functions": 1})
    # One emergency rollback, though it moved both traffic components.
    assert (reliability["rollbacks"], reliability["rollbacks_by_kind"]["emergency"]) == (1, 1)
    assert (reliability["alerts"], reliability["alerts_by_severity"]["critical"], reliability["open_alerts"]) == (
        1,
        1,
        1,
    )
    phases = {p["key"]: p for p in built["phases"]}
    assert phases["setup"]["planned_days"] == [1, 2]
    assert phases["setup"]["actual_days"] == pytest.approx(2.5)
    assert phases["setup"]["within_plan"] is False
    assert (phases["abstraction"]["actual_days"], phases["abstraction"]["finished"]) == (pytest.approx(0.5), False)
    assert phases["migration"]["actual_days"] is None
    recommendations = [(r["category"], r["priority"], r["description"]) for r in built["recommendations"]]
    assert recommendations == [
        (
            "Performance",
            "High",
            "The migrated implementation outperforms the original: keep the primary workload on it "
            "and retire the original once its rollback windows close",
        ),
        (
            "Reliability",
            "Medium",
            "1 rollback happened during the migration: review the reasons in the audit log "
            "and keep the rollback procedures tested",
        ),
        ("Operations", "Medium", "1 alert is still open: resolve or acknowledge each before closing"),
        (
            "Process",
            "Low",
            "Phase Infrastructure Setup took 2.5 days against at most 2 planned: revise the estimates "
            "of later migrations",
        ),
    ]


@pytest.mark.django_db
def test_without_a_baseline_the_report_says_what_is_missing(demo_plan):
    built = report.build_report(demo_plan, now=R)
    assert built["baseline"] is None
    assert all(c["met"] is None for c in built["success_criteria"])
    assert built["recommendations"][0]["description"].startswith("Capture a performance baseline")


@pytest.mark.django_db
def test_the_report_is_served_as_json_and_csv(client, demo_plan, viewer, settings):
    settings.TARGET_DATABASES = {}
    now = datetime.now(UTC)
    send(PLAN, "edge-functions", "original", [100] * 20, at=now - timedelta(minutes=5), operation="coordinate")
    baseline.capture(demo_plan, OPERATOR)
    send(PLAN, "edge-functions", "migrated", [90] * 20, at=now, operation="coordinate")
    client.force_login(viewer)
    as_json = client.get(f"/api/v1/plans/{PLAN}/report")
    assert as_json.status_code == 200
    assert as_json.json()["performance"]["operations"][0]["change"]["avg_latency_pct"] == pytest.approx(-10)
    as_csv = client.get(f"/api/v1/plans/{PLAN}/report.csv")
    assert as_csv.status_code == 200
    assert as_csv["Content-Type"].startswith("text/csv")
    assert f'filename="{PLAN}-report.csv"' in as_csv["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.content.decode())))
    assert rows[0] == ["section", "component", "operation", "metric", "baseline", "current", "change", "note"]
    assert ["performance", "edge-functions", "coordinate", "avg_latency_ms", "100", "90", "-10", ""] in rows
    assert any(
        r[0] == "success" and r[3] == "Average latency within 5% of the baseline" and r[7] == "met" for r in rows
    )


@pytest.mark.django_db
def test_an_operation_named_as_a_formula_stays_text_in_the_csv_and_figures_stay_numbers(
    client, demo_plan, viewer, settings
):
    # Operation names come from whoever holds a metrics token: a spreadsheet must not run one.
    settings.TARGET_DATABASES = {}
    now = datetime.now(UTC)
    formula = '=HYPERLINK("http://example.invalid/x","open")'
    send(PLAN, "edge-functions", "original", [100] * 20, at=now - timedelta(minutes=5), operation=formula)
    send(PLAN, "edge-functions", "original", [100] * 20, at=now - timedelta(minutes=5), operation="-2+3")
    baseline.capture(demo_plan, OPERATOR)
    send(PLAN, "edge-functions", "migrated", [90] * 20, at=now, operation=formula)
    send(PLAN, "edge-functions", "migrated", [90] * 20, at=now, operation="-2+3")
    client.force_login(viewer)
    rows = list(csv.reader(io.StringIO(client.get(f"/api/v1/plans/{PLAN}/report.csv").content.decode())))
    latency = {r[2]: r for r in rows if r[0] == "performance" and r[3] == "avg_latency_ms"}
    assert set(latency) == {"'" + formula, "'-2+3"}
    # 100 ms before, 90 ms after: a change of -10%, written as a number a spreadsheet sums.
    assert latency["'-2+3"][4:7] == ["100", "90", "-10"]


@pytest.mark.django_db
def test_operators_capture_a_baseline_through_the_api_and_viewers_may_not(
    client, demo_plan, operator, viewer, settings
):
    settings.TARGET_DATABASES = {}
    client.force_login(viewer)
    assert client.get(f"/api/v1/plans/{PLAN}/baseline").status_code == 404
    refused = client.post(f"/api/v1/plans/{PLAN}/baseline", data={}, content_type="application/json")
    assert refused.status_code == 403
    client.force_login(operator)
    created = client.post(
        f"/api/v1/plans/{PLAN}/baseline",
        data={"window_seconds": 600, "reason": "before"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert (created.json()["window_seconds"], created.json()["captured_by"]) == (600, operator.username)
    assert client.get(f"/api/v1/plans/{PLAN}/baseline").json()["id"] == created.json()["id"]


@pytest.mark.django_db
def test_the_report_body_shows_criteria_figures_and_recommendations(fixed_data):
    html = render_to_string("monitoring/report_body.html", {"report": report.build_report(fixed_data, now=R)})
    assert "Against the baseline captured 2026-03-02 12:10 UTC by olga over 3600 s" in html
    assert "✔ Met: Error rate increase under 0.1 points (4.00% → 1.11%, -2.89 points)" in " ".join(html.split())
    assert "edge-functions / coordinate" in html
    assert "150 ms → 120 ms" in html and "-20.0%" in html
    assert "The migrated implementation outperforms the original" in html
    assert f'href="/api/v1/plans/{PLAN}/report.csv"' in html


@pytest.mark.django_db
def test_the_dashboard_reads_open_alerts_most_severe_first(fixed_data):
    edge = fixed_data.components.get(name="edge-functions")
    alerts.raise_alert(fixed_data, component=edge, rule="p95_latency", severity="warning", message="slow")
    alerts.raise_alert(fixed_data, rule="automatic_rollback", severity="critical", message="rolled back")
    listed = alerts.open_alerts(fixed_data)
    assert [(a.level, a.component, a.message) for a in listed] == [
        ("critical", "plan-wide", "rolled back"),
        ("warning", "edge-functions", "slow"),
    ]


@pytest.mark.django_db
def test_the_first_traffic_rollout_captures_the_baseline_the_report_compares_against(demo_plan, operator, settings):
    settings.TARGET_DATABASES = {}  # no database to assess in this test
    now = datetime.now(UTC)
    send(PLAN, "edge-functions", "original", [100] * 30, errors=3, at=now - timedelta(minutes=10), operation="score")
    edge, blue = (migrated(demo_plan.components.get(name=name)) for name in ("edge-functions", "blue-green-deployment"))
    assert baseline.latest(demo_plan) is None

    services.start_rollout(edge.rollout, actor=actor(operator))

    captured = baseline.latest(demo_plan)
    assert (captured.captured_by_name, captured.reason) == (
        "olga-operator",
        "the first traffic rollout (edge-functions) started",
    )
    score = captured.entries.get(component=edge, operation="score")
    assert (score.samples, score.errors) == (30, 3)
    assert report.build_report(demo_plan)["baseline"]["captured_by"] == "olga-operator"
    # Later rollouts keep the baseline taken before any traffic moved.
    services.start_rollout(blue.rollout, actor=actor(operator))
    assert list(Baseline.objects.filter(plan=demo_plan)) == [captured]
