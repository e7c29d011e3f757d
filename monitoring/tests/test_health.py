"""Health verdicts: thresholds from the rollout or the plan, min_samples, the window,
comparisons, probes of the health URL and of the database."""

from datetime import UTC, datetime, timedelta

import pytest

from migrations_app.models import Plan, Rollout
from monitoring.health import evaluate
from monitoring.models import ProbeResult
from monitoring.tests.conftest import compare, report

PLAN = "truststream-v4.2"
NOW = datetime(2026, 3, 2, 12, 0, 5, tzinfo=UTC)


@pytest.fixture
def edge(demo_plan, settings):
    settings.METRICS_RETENTION_HOURS = 24 * 365 * 10  # NOW is fixed; keep it inside the retention
    return demo_plan.components.select_related("plan", "rollout").get(name="edge-functions")


@pytest.mark.django_db
def test_it_refuses_to_pass_below_min_samples(edge):
    report(PLAN, "edge-functions", "migrated", [50] * 49, at=NOW)
    verdict = evaluate(edge, now=NOW)
    assert not verdict.enough_samples
    assert not verdict.healthy
    assert not verdict.failing  # waiting for data is not a reason to roll back
    assert verdict.reasons == ["migrated: only 49 samples in the last 300 s; at least 50 are needed to judge"]


@pytest.mark.django_db
def test_errors_below_min_samples_do_not_fail_it(edge):
    report(PLAN, "edge-functions", "migrated", [50] * 10, errors=10, at=NOW)
    verdict = evaluate(edge, now=NOW)
    assert verdict.providers["migrated"].error_rate == 1.0
    assert not verdict.failing


@pytest.mark.django_db
def test_it_passes_a_healthy_migrated_provider(edge):
    report(PLAN, "edge-functions", "migrated", [80] * 60, errors=1, at=NOW)
    report(PLAN, "edge-functions", "original", [120] * 40, at=NOW)
    verdict = evaluate(edge, now=NOW)
    assert verdict.healthy and verdict.enough_samples and not verdict.failing
    assert verdict.reasons == []
    migrated = verdict.providers["migrated"]
    assert (migrated.samples, migrated.errors, migrated.avg_latency_ms) == (60, 1, 80)
    assert migrated.error_rate == pytest.approx(1 / 60)
    assert verdict.providers["original"].samples == 40
    assert verdict.providers["original"].healthy is None  # 40 < min_samples: not judged


@pytest.mark.django_db
def test_an_error_rate_above_the_threshold_fails_it_with_the_figures(edge):
    report(PLAN, "edge-functions", "migrated", [80] * 50, errors=6, at=NOW)
    verdict = evaluate(edge, now=NOW)
    assert verdict.failing
    assert verdict.reasons == ["migrated: error rate 12.0% > 5.0%"]


@pytest.mark.django_db
def test_an_average_latency_above_the_threshold_fails_it(edge):
    report(PLAN, "edge-functions", "migrated", [2500] * 50, at=NOW)
    verdict = evaluate(edge, now=NOW)
    assert verdict.failing
    assert verdict.reasons == ["migrated: average latency 2500 ms > 2000 ms"]


@pytest.mark.django_db
def test_a_slow_p95_is_a_warning_not_a_failure(edge):
    report(PLAN, "edge-functions", "migrated", [100] * 90 + [4000] * 10, at=NOW)
    verdict = evaluate(edge, now=NOW)
    assert verdict.healthy
    assert verdict.providers["migrated"].p95_latency_ms > 3000
    assert any("p95 latency" in warning for warning in verdict.warnings)


@pytest.mark.django_db
def test_the_original_provider_is_reported_but_does_not_decide(edge):
    report(PLAN, "edge-functions", "migrated", [80] * 60, at=NOW)
    report(PLAN, "edge-functions", "original", [80] * 60, errors=30, at=NOW)
    verdict = evaluate(edge, now=NOW)
    assert verdict.healthy
    assert verdict.providers["original"].healthy is False
    assert verdict.providers["original"].reasons == ["original: error rate 50.0% > 5.0%"]


@pytest.mark.django_db
def test_samples_older_than_the_window_do_not_count(edge):
    report(PLAN, "edge-functions", "migrated", [80] * 100, errors=100, at=NOW - timedelta(seconds=400))
    report(PLAN, "edge-functions", "migrated", [80] * 60, at=NOW - timedelta(seconds=200))
    verdict = evaluate(edge, now=NOW)
    assert verdict.providers["migrated"].samples == 60
    assert verdict.healthy
    wider = evaluate(edge, window_seconds=600, now=NOW)
    assert wider.providers["migrated"].samples == 160
    assert wider.window_seconds == 600


@pytest.mark.django_db
def test_a_time_scale_shortens_the_window_the_plan_states(edge, settings):
    settings.ROLLOUT_TIME_SCALE = 0.1  # the plan's 300 s window becomes 30 s
    report(PLAN, "edge-functions", "migrated", [80] * 60, errors=60, at=NOW - timedelta(seconds=45))
    report(PLAN, "edge-functions", "migrated", [80] * 55, at=NOW - timedelta(seconds=10))
    verdict = evaluate(edge, now=NOW)
    assert verdict.window_seconds == 30
    assert verdict.providers["migrated"].samples == 55
    assert verdict.healthy


@pytest.mark.django_db
def test_thresholds_come_from_the_components_rollout(edge):
    Rollout.objects.filter(pk=edge.rollout.pk).update(
        health={**edge.rollout.health, "min_samples": 5, "window_seconds": 60}
    )
    edge.rollout.refresh_from_db()
    report(PLAN, "edge-functions", "migrated", [80] * 5, at=NOW)
    report(PLAN, "edge-functions", "migrated", [80] * 50, errors=50, at=NOW - timedelta(seconds=90))
    verdict = evaluate(edge, now=NOW)
    assert verdict.window_seconds == 60
    assert verdict.healthy


@pytest.mark.django_db
def test_a_component_without_a_rollout_uses_the_plans_defaults(demo_plan, settings):
    settings.METRICS_RETENTION_HOURS = 24 * 365 * 10
    Plan.objects.filter(pk=demo_plan.pk).update(rollout_defaults={"health": {"min_samples": 3, "max_error_rate": 0.5}})
    component = demo_plan.components.select_related("plan").get(name="agent-service")
    report(PLAN, "agent-service", "migrated", [80] * 4, errors=1, at=NOW)
    verdict = evaluate(component, now=NOW)
    assert verdict.thresholds["min_samples"] == 3
    assert verdict.thresholds["max_avg_latency_ms"] == 2000  # monitoring's default underneath
    assert verdict.healthy


@pytest.mark.django_db
def test_the_mismatch_rate_is_judged_when_the_plan_sets_a_limit(edge):
    report(PLAN, "edge-functions", "migrated", [80] * 60, at=NOW)
    compare(PLAN, "edge-functions", [True] * 95 + [False] * 5, at=NOW)
    unlimited = evaluate(edge, now=NOW)
    assert unlimited.mismatch_rate == pytest.approx(0.05)
    assert unlimited.comparisons == 100
    assert unlimited.healthy
    Rollout.objects.filter(pk=edge.rollout.pk).update(health={**edge.rollout.health, "max_mismatch_rate": 0.01})
    edge.rollout.refresh_from_db()
    limited = evaluate(edge, now=NOW)
    assert limited.failing
    assert limited.reasons == ["comparison mismatch rate 5.0% > 1.0%"]


def probe(kind, ok, seconds_ago, component=None, target="target"):
    return ProbeResult.objects.create(
        kind=kind,
        component=component,
        target=component.health_url if component else target,
        ok=ok,
        error="" if ok else "connection refused",
        at=NOW - timedelta(seconds=seconds_ago),
    )


@pytest.mark.django_db
def test_a_database_that_failed_its_last_two_probes_fails_health_whatever_the_samples(edge):
    probe(ProbeResult.Kind.DATABASE, False, 5)
    once = evaluate(edge, now=NOW)
    assert once.database_healthy  # one failed probe proves nothing
    probe(ProbeResult.Kind.DATABASE, False, 2)
    verdict = evaluate(edge, now=NOW)
    assert not verdict.database_healthy
    assert verdict.failing
    assert verdict.reasons[-1] == "database 'target': failed its last 2 probes (connection refused)"


@pytest.mark.django_db
def test_a_database_back_up_is_healthy_again(edge):
    probe(ProbeResult.Kind.DATABASE, False, 20)
    probe(ProbeResult.Kind.DATABASE, False, 10)
    probe(ProbeResult.Kind.DATABASE, True, 1)
    assert evaluate(edge, now=NOW).database_healthy


@pytest.mark.django_db
def test_a_stale_database_probe_is_a_warning_not_a_failure(edge):
    probe(ProbeResult.Kind.DATABASE, False, 600)
    probe(ProbeResult.Kind.DATABASE, False, 590)
    verdict = evaluate(edge, now=NOW)
    assert verdict.database_healthy
    assert "database 'target': not probed in the last 120 s" in verdict.warnings


@pytest.mark.django_db
def test_a_database_never_probed_is_a_warning(edge):
    verdict = evaluate(edge, now=NOW)
    assert verdict.database_healthy
    assert "database 'target': not probed in the last 120 s" in verdict.warnings


@pytest.mark.django_db
def test_probes_after_the_moment_judged_are_not_read(edge):
    probe(ProbeResult.Kind.DATABASE, True, 1)
    probe(ProbeResult.Kind.DATABASE, False, -5)
    probe(ProbeResult.Kind.DATABASE, False, -10)
    verdict = evaluate(edge, now=NOW)
    assert verdict.database_healthy
    assert not any("database" in w for w in verdict.warnings)


@pytest.mark.django_db
def test_only_the_databases_the_plan_acts_on_count(edge, settings):
    settings.TARGET_DATABASES = {**settings.TARGET_DATABASES, "elsewhere": "sqlite:///elsewhere.sqlite3"}
    probe(ProbeResult.Kind.DATABASE, True, 1)
    probe(ProbeResult.Kind.DATABASE, False, 5, target="elsewhere")
    probe(ProbeResult.Kind.DATABASE, False, 2, target="elsewhere")
    verdict = evaluate(edge, now=NOW)
    assert verdict.database_healthy
    assert not any("elsewhere" in line for line in verdict.reasons + verdict.warnings)
    settings.TARGET_DATABASES = {}
    assert evaluate(edge, now=NOW).database_healthy  # nothing named, nothing to judge


@pytest.mark.django_db
def test_a_failing_health_url_makes_the_component_unhealthy(edge):
    report(PLAN, "edge-functions", "migrated", [80] * 60, at=NOW)
    probe(ProbeResult.Kind.HTTP, False, 20, component=edge)
    probe(ProbeResult.Kind.HTTP, False, 5, component=edge)
    verdict = evaluate(edge, now=NOW)
    assert verdict.probe_healthy is False
    assert verdict.failing
    assert verdict.reasons == [
        "health URL ${SIMULATOR_URL}/health/edge-functions: failed its last 2 probes (connection refused)"
    ]


@pytest.mark.django_db
def test_the_health_endpoint_answers_per_provider_figures(client, edge, viewer):
    now = datetime.now(UTC)
    report(PLAN, "edge-functions", "migrated", [100] * 50, errors=5, at=now)
    client.force_login(viewer)
    response = client.get(f"/api/v1/plans/{PLAN}/components/edge-functions/health?window=60")
    assert response.status_code == 200
    body = response.json()
    assert body["window_seconds"] == 60
    migrated = body["providers"]["migrated"]
    assert (migrated["samples"], migrated["error_rate"], migrated["avg_latency_ms"]) == (50, 0.1, 100)
    assert migrated["p95_latency_ms"] == pytest.approx(50 + 50 * 0.95)
    assert body["providers"]["original"]["samples"] == 0
    assert body["healthy"] is False
    assert body["reasons"] == ["migrated: error rate 10.0% > 5.0%"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/api/v1/plans/nope/components/x/health", 404, "no plan 'nope'"),
        (f"/api/v1/plans/{PLAN}/components/trust-svc/health", 404, "has no component 'trust-svc'"),
        (f"/api/v1/plans/{PLAN}/components/edge-functions/health?window=1", 422, None),
    ],
)
def test_the_health_endpoint_names_what_is_wrong(client, edge, viewer, path, status, detail):
    client.force_login(viewer)
    response = client.get(path)
    assert response.status_code == status
    if detail:
        assert detail in response.json()["detail"]


@pytest.mark.django_db
def test_a_user_without_a_role_may_not_read_health(client, edge, nobody):
    client.force_login(nobody)
    assert client.get(f"/api/v1/plans/{PLAN}/components/edge-functions/health").status_code == 403
