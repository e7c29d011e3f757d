"""Probes of health URLs and target databases: stored, published, run by the worker."""

import sqlite3
import time
from datetime import UTC, datetime

import pytest
from celery.contrib.testing.worker import start_worker

from conftest import DEMO_PLAN
from controlplane.celery import app
from migrations_app import broadcast
from migrations_app.planfile import load_plan, parse_plan_file
from migrations_app.roles import CLI
from monitoring import probes
from monitoring.models import ProbeResult
from monitoring.tasks import run_probes

NOW = datetime.now(UTC)


@pytest.fixture
def simulator(http_server, monkeypatch):
    monkeypatch.setenv("SIMULATOR_URL", http_server.url)
    return http_server


@pytest.fixture
def target(tmp_path, settings):
    path = tmp_path / "target.sqlite3"
    sqlite3.connect(path).close()
    settings.TARGET_DATABASES = {"target": f"sqlite:///{path}"}
    return path


@pytest.mark.django_db
def test_a_health_url_answering_200_is_up(demo_plan, simulator):
    component = demo_plan.components.get(name="edge-functions")
    result = probes.probe_http(component, NOW)
    assert (result.ok, result.status_code, result.error) == (True, 200, "")
    assert result.latency_ms > 0
    assert simulator.received[0]["path"] == "/health/edge-functions"
    assert result.target == "${SIMULATOR_URL}/health/edge-functions"  # stored unresolved: no secrets


@pytest.mark.django_db
def test_a_health_url_answering_503_is_down(demo_plan, simulator):
    simulator.default_status = 503
    result = probes.probe_http(demo_plan.components.get(name="edge-functions"), NOW)
    assert (result.ok, result.status_code, result.error) == (False, 503, "answered 503, expected 200")


@pytest.mark.django_db
def test_an_unset_variable_in_a_health_url_is_named(demo_plan, monkeypatch):
    monkeypatch.delenv("SIMULATOR_URL", raising=False)
    result = probes.probe_http(demo_plan.components.get(name="edge-functions"), NOW)
    assert (result.ok, result.error) == (False, "SIMULATOR_URL is not set in the environment")


@pytest.mark.django_db
def test_a_refused_connection_is_down(demo_plan, monkeypatch):
    monkeypatch.setenv("SIMULATOR_URL", "http://127.0.0.1:9")
    result = probes.probe_http(demo_plan.components.get(name="edge-functions"), NOW)
    assert not result.ok
    assert result.error.startswith("ConnectError")


@pytest.mark.django_db
def test_a_database_answering_select_1_is_up_and_a_missing_one_is_down(target, settings, tmp_path):
    up = probes.probe_database("target", NOW)
    assert up.ok and up.latency_ms >= 0
    settings.TARGET_DATABASES = {"gone": f"sqlite:///{tmp_path / 'gone.sqlite3'}"}
    down = probes.probe_database("gone", NOW)
    assert not down.ok and "OperationalError" in down.error


@pytest.mark.django_db
def test_a_round_of_probes_is_stored_and_published_per_plan(
    demo_plan, simulator, target, django_capture_on_commit_callbacks
):
    simulator.statuses = []
    with django_capture_on_commit_callbacks() as callbacks:
        results = probes.run_probes(NOW)
    with_url = demo_plan.components.exclude(health_url="").count()
    assert len(results) == with_url + 1
    assert ProbeResult.objects.filter(kind="http", ok=True).count() == with_url
    assert ProbeResult.objects.get(kind="database").target == "target"
    sent = [cb.args for cb in callbacks if getattr(cb, "args", None)]
    assert [(plan_id, event) for plan_id, event, _ in sent] == [(demo_plan.pk, broadcast.Event.PROBES_RECORDED)]
    published = sent[0][2]["results"]
    assert {r["component"] for r in published if r["kind"] == "http"} == set(
        demo_plan.components.exclude(health_url="").values_list("name", flat=True)
    )


@pytest.mark.django_db
def test_the_latest_probes_are_served_to_viewers(client, demo_plan, simulator, target, viewer):
    probes.run_probes(NOW)
    client.force_login(viewer)
    listed = client.get("/api/v1/plans/truststream-v4.2/probes").json()
    assert {(r["kind"], r["ok"]) for r in listed} == {("http", True), ("database", True)}


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_periodic_probe_task(simulator, target):
    spec, source = parse_plan_file(DEMO_PLAN)
    load_plan(spec, source, actor=CLI)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        run_probes.delay()
        for _ in range(100):
            if ProbeResult.objects.filter(kind="database").exists():
                break
            time.sleep(0.1)
    assert ProbeResult.objects.filter(kind="database", ok=True).count() == 1
    assert ProbeResult.objects.filter(kind="http", ok=True).exists()
