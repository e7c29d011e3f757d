"""/metrics: Prometheus text behind a token or an address allow-list."""

import json

import pytest

from migrations_app import tokens
from migrations_app.models import Rollout
from migrations_app.roles import CLI
from monitoring import alerts

PLAN = "truststream-v4.2"


@pytest.mark.django_db
def test_without_a_token_or_an_allowed_address_it_answers_401(client, demo_plan):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert "METRICS_ALLOWED_IPS" in response.json()["detail"]


@pytest.mark.django_db
def test_any_valid_token_may_scrape(client, demo_plan):
    raw = tokens.create(name="prometheus", scopes=["read"], actor=CLI)[1]
    response = client.get("/metrics", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert client.get("/metrics", headers={"Authorization": "Bearer sy_wrong"}).status_code == 401


@pytest.mark.django_db
def test_an_allowed_network_scrapes_without_a_token(client, demo_plan, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "127.0.0.1"]
    assert client.get("/metrics").status_code == 200
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 401


@pytest.mark.django_db
def test_it_exposes_rollouts_phases_alerts_and_ingestion(client, demo_plan, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    edge = demo_plan.components.get(name="edge-functions")
    Rollout.objects.filter(component=edge).update(percentage=25)
    alerts.raise_alert(demo_plan, component=edge, rule="automatic_rollback", severity="critical", message="m")
    raw = tokens.create(name="ingest", scopes=["metrics:write"], actor=CLI)[1]
    item = {"plan": PLAN, "component": "edge-functions", "operation": "o", "provider": "migrated"}
    client.post(
        "/api/v1/metrics",
        data=json.dumps([{**item, "duration_ms": 5, "success": True}] * 3),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    lines = client.get("/metrics").content.decode().splitlines()
    assert f'switchyard_rollout_percentage{{plan="{PLAN}",component="edge-functions"}} 25' in lines
    assert f'switchyard_rollout_state{{plan="{PLAN}",component="edge-functions",state="idle"}} 1' in lines
    assert f'switchyard_phase_state{{plan="{PLAN}",phase="setup",state="pending"}} 1' in lines
    assert f'switchyard_alerts_open{{plan="{PLAN}",severity="critical"}} 1' in lines
    assert f'switchyard_alerts_open{{plan="{PLAN}",severity="warning"}} 0' in lines
    assert 'switchyard_ingest_items_total{kind="metrics",outcome="accepted"} 3' in lines
    assert "# TYPE switchyard_ingest_batches_total counter" in lines
