"""Plan files: the demo plan is valid and faithful to the procedure; each malformed plan in
plans/bad/ is refused whole, with the message its `# expect:` lines give, writing nothing."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from conftest import DEMO_PLAN
from migrations_app import models
from migrations_app.planfile import PlanFileError, parse_plan, parse_plan_file

BAD_PLANS = sorted((Path(__file__).parent / "plans" / "bad").glob("*.yaml"))
DOMAIN_MODELS = [
    models.Plan,
    models.Phase,
    models.ChecklistItem,
    models.Component,
    models.Step,
    models.Rollout,
    models.AuditEvent,
]


def expectations(path: Path) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^# expect: (.+)$", path.read_text(), re.MULTILINE)]


def row_counts():
    return {model.__name__: model.objects.count() for model in DOMAIN_MODELS}


def test_there_are_at_least_thirty_malformed_plans_each_with_expectations():
    assert len(BAD_PLANS) >= 30
    for path in BAD_PLANS:
        assert expectations(path), f"{path.name} has no '# expect:' line"


@pytest.mark.parametrize("path", BAD_PLANS, ids=lambda p: p.stem)
def test_check_refuses_a_malformed_plan_with_a_path_named_message(path):
    stderr = StringIO()
    with pytest.raises(CommandError, match=r"problems? in .*nothing was written"):
        call_command("loadplan", str(path), "--check", stderr=stderr)
    for expected in expectations(path):
        assert expected in stderr.getvalue(), f"missing {expected!r} in:\n{stderr.getvalue()}"


@pytest.mark.django_db
@pytest.mark.parametrize("path", BAD_PLANS, ids=lambda p: p.stem)
def test_loading_a_malformed_plan_writes_nothing(path):
    before = row_counts()
    with pytest.raises(CommandError):
        call_command("loadplan", str(path), stderr=StringIO())
    assert row_counts() == before


def test_the_command_exits_with_status_1_on_a_bad_plan():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "loadplan", "--check", str(BAD_PLANS[0])],
        cwd=DEMO_PLAN.parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        env={"DEBUG": "True", "PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite:////tmp/unused-check.sqlite3"},
    )
    assert result.returncode == 1
    assert "YAML syntax error" in result.stderr


def test_the_demo_plan_is_valid():
    stdout = StringIO()
    call_command("loadplan", str(DEMO_PLAN), "--check", stdout=stdout)
    assert "is valid" in stdout.getvalue()


def test_the_demo_plan_follows_the_procedure():
    spec, _ = parse_plan_file(DEMO_PLAN)
    phases = {p.key: p for p in spec.spec.phases}
    # The procedure's phase table: durations, risk levels, rollback windows.
    assert [(p.name, p.days, p.risk, p.rollback_window_hours) for p in spec.spec.phases] == [
        ("Infrastructure Setup", [1, 2], "low", 0),
        ("Service Abstraction", [3, 5], "medium", 24),
        ("Component Migration", [5, 10], "medium", 48),
        ("Testing and Validation", [3, 5], "low", 24),
        ("Production Deployment", [1, 2], "high", 72),
    ]
    assert phases["production"].approvals == 2
    assert len(spec.spec.checklist) == 7
    # The procedure's component plan for phase 3.
    phase3 = {c.name: c for c in spec.spec.components if c.phase == "migration"}
    assert {n: (c.depends_on, c.estimated_minutes, c.risk, c.rollback_complexity) for n, c in phase3.items()} == {
        "agent-repository": ([], 30, "low", "simple"),
        "agent-service": (["agent-repository"], 45, "medium", "moderate"),
        "trust-service": (["agent-repository"], 60, "medium", "moderate"),
        "coordination-service": (["agent-service", "trust-service"], 90, "high", "complex"),
        "edge-functions": (["coordination-service"], 120, "high", "complex"),
    }
    # Blue-green production deployment starts at the procedure's 10%.
    assert spec.rollouts["blue-green-deployment"]["steps"][0] == 10
    assert set(spec.rollouts) == {"edge-functions", "blue-green-deployment"}


def test_every_phase_of_the_demo_has_components():
    spec, _ = parse_plan_file(DEMO_PLAN)
    used = {c.phase for c in spec.spec.components}
    assert used == {p.key for p in spec.spec.phases}


def test_a_component_may_override_the_plan_rollout_defaults():
    spec = parse_plan(
        """
plan: p
name: P
rollout: {steps: [10, 50, 100], approval_at: [100], interval_seconds: 60, health: {min_samples: 20}}
phases: [{key: a, name: A, days: [1, 1], risk: low, rollback_window_hours: 0}]
components:
  - name: web
    phase: a
    risk: low
    rollback_complexity: simple
    traffic: true
    rollout: {steps: [5, 100], approval_at: [], health: {max_error_rate: 0.01}}
    steps: [{name: s, command: [echo]}]
"""
    )
    merged = spec.rollouts["web"]
    assert merged["steps"] == [5, 100]
    assert merged["approval_at"] == []
    assert merged["interval_seconds"] == 60
    assert merged["health"]["min_samples"] == 20
    assert merged["health"]["max_error_rate"] == 0.01
    assert merged["health"]["max_avg_latency_ms"] == 2000


def test_an_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(PlanFileError, match="cannot read"):
        parse_plan_file(tmp_path / "missing.yaml")
