"""The pre-migration assessment of a plan's target database, kept with the baseline."""

import sqlite3

import pytest
from django.db import connection

from migrations_app.models import AuditEvent
from migrations_app.roles import Actor, Permission
from monitoring import assessment, baseline
from monitoring.models import Assessment

PLAN = "truststream-v4.2"
OPERATOR = Actor(name="olga", permissions=frozenset({Permission.OPERATE, Permission.VIEW}))


@pytest.fixture
def sqlite_target(tmp_path, settings):
    path = tmp_path / "target.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE agents (id INTEGER PRIMARY KEY, capabilities JSON, name TEXT)")
        db.execute("CREATE TABLE trust_scores (agent_id INTEGER, score REAL)")
        db.executemany("INSERT INTO agents (name) VALUES (?)", [("a",), ("b",), ("c",)])
        db.execute("INSERT INTO trust_scores VALUES (1, 0.5)")
    settings.TARGET_DATABASES = {"target": f"sqlite:///{path}"}
    return path


@pytest.mark.django_db
def test_it_assesses_a_sqlite_target_with_exact_counts(demo_plan, sqlite_target):
    (row,) = assessment.run(demo_plan, OPERATOR)
    assert (row.database, row.vendor, row.ran_by_name) == ("target", "sqlite", "olga")
    assert [(t["table"], t["row_estimate"]) for t in row.result["tables"]] == [("agents", 3), ("trust_scores", 1)]
    assert row.result["complex_columns"] == [
        {"schema": "main", "table": "agents", "column": "capabilities", "data_type": "JSON", "nullable": True}
    ]
    assert AuditEvent.objects.filter(action="assessment.ran", plan=demo_plan).count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_assesses_a_postgresql_target_by_size_with_row_estimates_and_complex_columns(demo_plan, settings):
    name = connection.settings_dict["NAME"]
    settings.TARGET_DATABASES = {"target": f"postgres://postgres@127.0.0.1:5432/{name}"}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE assess_agents (id int, payload jsonb, tags text[], meta json, name text)")
        cursor.execute(
            "INSERT INTO assess_agents SELECT g, '{}'::jsonb, ARRAY['x'], '{}', repeat('n', 500) "
            "FROM generate_series(1, 2000) g"
        )
        cursor.execute("ANALYZE assess_agents")
    try:
        (row,) = assessment.run(demo_plan, OPERATOR)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE assess_agents")
    assert row.vendor == "postgresql"
    tables = row.result["tables"]
    sizes = [t["total_bytes"] for t in tables]
    assert sizes == sorted(sizes, reverse=True)
    agents = next(t for t in tables if t["table"] == "assess_agents")
    assert (agents["schema"], agents["row_estimate"]) == ("public", 2000)
    assert agents["total_bytes"] > 2000 * 500 and agents["size"].endswith(("kB", "MB"))
    assessed = [(c["table"], c["column"], c["data_type"]) for c in row.result["complex_columns"]]
    assert ("assess_agents", "payload", "jsonb") in assessed
    assert ("assess_agents", "tags", "ARRAY") in assessed
    assert ("assess_agents", "meta", "json") in assessed
    assert ("assess_agents", "name", "text") not in assessed


@pytest.mark.django_db
def test_a_baseline_keeps_the_assessment_of_the_plans_databases(demo_plan, sqlite_target):
    captured = baseline.capture(demo_plan, OPERATOR)
    (kept,) = captured.assessments.all()
    assert kept.database == "target"
    assert kept.result["tables"][0]["table"] == "agents"


@pytest.mark.django_db
def test_an_unreachable_database_does_not_stop_the_baseline(demo_plan, tmp_path, settings):
    settings.TARGET_DATABASES = {"target": f"sqlite:///{tmp_path / 'missing.sqlite3'}"}
    captured = baseline.capture(demo_plan, OPERATOR)
    assert not captured.assessments.exists()
    event = AuditEvent.objects.get(action="baseline.captured")
    assert "target" in event.data["unreachable_databases"]
    assert not (tmp_path / "missing.sqlite3").exists()


@pytest.mark.django_db
def test_the_assessment_api_runs_for_operators_and_reads_for_viewers(
    client, demo_plan, sqlite_target, operator, viewer
):
    client.force_login(viewer)
    assert client.post(f"/api/v1/plans/{PLAN}/assessment", data={}, content_type="application/json").status_code == 403
    assert client.get(f"/api/v1/plans/{PLAN}/assessment").json() == []
    client.force_login(operator)
    created = client.post(f"/api/v1/plans/{PLAN}/assessment", data={}, content_type="application/json")
    assert created.status_code == 201, created.content
    client.force_login(viewer)
    (latest,) = client.get(f"/api/v1/plans/{PLAN}/assessment").json()
    assert latest["database"] == "target" and latest["tables"][0]["table"] == "agents"
    assert Assessment.objects.count() == 1


@pytest.mark.django_db
def test_an_unknown_database_is_named(client, demo_plan, sqlite_target, operator):
    client.force_login(operator)
    response = client.post(
        f"/api/v1/plans/{PLAN}/assessment", data={"database": "nope"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert "no target database named 'nope'" in response.json()["detail"]
    assert not Assessment.objects.exists()
